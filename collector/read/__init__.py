"""The read side: sandboxed SQL for analysts and what reads the snapshots."""
