"""Jobs and the nightly schedule."""
