"""Weight files: srkit's own safetensors (``files``, with ``metadata`` and ``check``), foreign
checkpoints (``convert``, ``model_files``), ``export`` and ``pretrained`` downloads."""
