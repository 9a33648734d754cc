"""The read side: the estate report (HTML, CSV, JSON), the GDS Summary and the pull that merges them."""
