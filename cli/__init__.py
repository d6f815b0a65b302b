"""The `tilting` command: the layer above precompute/ and backend/ that ties them together."""
