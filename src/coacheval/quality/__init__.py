"""Quality monitoring, implementation (RE-AIM) and economics of the program."""
