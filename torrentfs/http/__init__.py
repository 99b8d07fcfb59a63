"""The HTTP face of a mount: files with ranges, WebDAV, playlists, a page and the status,
over the same content and readers as the FUSE mount. Imported only with --http."""
