"""``python -m srkit`` (the form torchrun needs)."""

from srkit.cli import main

if __name__ == "__main__":
    main()
