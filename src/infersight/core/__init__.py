"""Pure core: no sockets, files, threads or wall clock. Standard library and numpy only."""
