"""Stage 2: the FAISS HNSW index over chunk vectors, its manifest and its versioned on-disk store."""
