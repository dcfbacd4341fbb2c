"""Share links: a read-only page for one image or a whole gallery, for anyone holding the link."""
