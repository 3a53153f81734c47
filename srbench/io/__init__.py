"""Reading and writing files: NIfTI volumes with their affines, atomic writes, hashes."""
