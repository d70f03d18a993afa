"""The machine side of a diagnosis: histories from the store, roots or a watch; what attribution reads."""
