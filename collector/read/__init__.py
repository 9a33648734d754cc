"""The read side: sandboxed SQL for analysts and what reads the snapshots; the estate report (HTML, CSV,
JSON), the GDS Summary and the pull that merges them."""
