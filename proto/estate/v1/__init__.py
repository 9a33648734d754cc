"""Generated wire contract (estate.v1). Regenerate with `make proto`; never edit the *_pb2* files."""
