"""Gold files and the fixture report document they are rendered from."""
