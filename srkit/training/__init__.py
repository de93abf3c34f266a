"""Training: the trainer and its recipes' building blocks (a run's paths: :mod:`srkit.run_folder`)."""
