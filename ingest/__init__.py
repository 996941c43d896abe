"""Stage 1: read notes, clean them, chunk them by structure and embed the chunks."""
