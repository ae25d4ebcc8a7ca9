"""Video for coders: probe sources, plan epochs, cut clips in one pass, check recordings."""
