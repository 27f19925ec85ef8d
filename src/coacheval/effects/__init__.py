"""Effects of the program on survey outcomes: designs, estimators and honest inference."""
