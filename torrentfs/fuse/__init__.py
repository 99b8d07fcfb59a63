"""The FUSE layer, the only one that imports pyfuse3: the operations and the life of a mount."""
