"""Reading ROOT files and reading/writing HDF5 tables, always atomically."""
