"""Run the command-line interface: ``python -m coacheval``."""

from coacheval.cli import main

if __name__ == "__main__":
    main()
