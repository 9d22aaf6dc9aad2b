"""The client's HTTP side: Score's REST API, tokens and login, the metadata service, signed URLs."""
