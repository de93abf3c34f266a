"""Weight files: srkit's own safetensors (``files``, with ``metadata``, ``check`` and ``atomic``
writes), foreign checkpoints (``convert``, ``model_files``), ``export`` and ``pretrained`` downloads."""
