from __future__ import annotations

from index.search import Hit
from ingest.types import Chunk
from service.grounding import is_invented, novel_terms, reattribute
from service.prompting import cited_numbers

HITS = [
    Hit(
        Chunk(
            "a.md",
            "Loss functions",
            1,
            3,
            "Hinge loss - SVM loss. MAE - average of absolute error - good with outliers",
        ),
        0.6,
        1,
    ),
    Hit(Chunk("b.md", "One-hot", 4, 9, "fox is [0, 0, 0, 1, 0, 0, 0, 0, 0] in the 9-word vocabulary"), 0.5, 2),
    Hit(Chunk("c.md", "Outliers", 10, 12, "Use the median to avoid the effect of outliers"), 0.4, 3),
]


def test_a_bracketed_vector_is_not_a_citation() -> None:
    assert cited_numbers("fox is [0, 0, 0, 1, 0, 0, 0, 0, 0]", n_passages=3) == []
    assert cited_numbers("fox is [0, 0, 0, 1] [2]", n_passages=3) == [2]


def test_citation_moves_to_the_passage_holding_the_answer_words() -> None:
    text, cited = reattribute("The one-hot vector for fox is [0, 0, 0, 1, 0, 0, 0, 0, 0] [1].", HITS)
    assert cited == [2]
    assert text.endswith("[0, 0, 0, 1, 0, 0, 0, 0, 0] [2].")  # the vector is left alone


def test_a_citation_that_supports_the_answer_stays() -> None:
    text = "MAE copes well with outliers [1]."
    assert reattribute(text, HITS) == (text, [1])


def test_an_answer_made_of_words_the_passages_never_use_is_invented() -> None:
    question = "How does gradient checkpointing save GPU memory?"
    made_up = "It stores activations on the CPU and recomputes intermediate results during backpropagation [3]."
    assert {"activ", "cpu", "recomput"} <= novel_terms(question, made_up, HITS)
    assert is_invented(question, made_up, HITS)
    # Repeating the question's own words and the passages' words is not invention.
    assert not is_invented(
        "Which loss copes with outliers?", "MAE, the average of absolute error, copes with outliers [1].", HITS
    )


def test_a_number_no_passage_states_is_invented() -> None:
    assert is_invented("How long should the warmup be?", "Use 1000 steps of warmup [1].", HITS)
    assert not is_invented("What vocabulary size?", "The vocabulary has 9 words [2].", HITS)  # single digit
    assert not is_invented("What is in 2024?", "Nothing changed in 2024 [1].", HITS)  # from the question
