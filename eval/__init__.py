"""Stage 4: run question sets through the answering pipeline offline and score the answers."""
