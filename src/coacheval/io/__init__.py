"""Reading, validating and linking extracts: the data contract at work."""
