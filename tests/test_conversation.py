"""Follow-up questions made self-contained from the conversation (rules in service/pipeline/conversation.py)."""

from __future__ import annotations

import pytest

from service.pipeline.conversation import Turn, contextualize, rewrite, subject_of


@pytest.mark.parametrize(
    ("previous", "follow_up", "expected"),
    [
        ("What is ReLU?", "What are its disadvantages?", "What are ReLU's disadvantages?"),
        ("What is ReLU?", "and what about its disadvantages?", "What about ReLU's disadvantages?"),
        ("What does MRKL stand for?", "Who proposed it?", "Who proposed MRKL?"),
        (
            "Tell me about LoRA",
            "How does it compare to full fine-tuning?",
            "How does LoRA compare to full fine-tuning?",
        ),
        ("What is ReLU?", "what about sigmoid?", "What is sigmoid?"),
        ("What is the formula for recall?", "and for precision?", "What is the formula for precision?"),
        ("What is the formula for recall?", "what about precision?", "What is the formula for precision?"),
        (
            "How is nDCG computed when evaluating retrieval?",
            "what about MRR?",
            "How is MRR computed when evaluating retrieval?",
        ),
        ("What is ReLU?", "what about the disadvantages?", "What about the disadvantages of ReLU?"),
        ("What is ReLU?", "disadvantages?", "What about the disadvantages of ReLU?"),
        ("What is ReLU?", "Why does this function help?", "Why does the function (ReLU) help?"),
        ("What is ReLU?", "Who uses these?", "Who uses ReLU?"),
    ],
)
def test_follow_ups_are_rewritten(previous: str, follow_up: str, expected: str) -> None:
    assert rewrite(follow_up, previous) == expected


@pytest.mark.parametrize(
    "question",
    [
        "What is a transformer?",
        "What is the model that wins?",  # a relative "that" is not a reference back
        "How does beam search decoding work?",
    ],
)
def test_self_contained_questions_are_left_alone(question: str) -> None:
    assert rewrite(question, "What is ReLU?") == question


def test_subject_of_strips_the_question_words() -> None:
    assert subject_of("What is the formula for recall?") == "the formula for recall"
    assert subject_of("How does ReLU work?") == "ReLU"
    assert subject_of("What does MRKL stand for?") == "MRKL"


def test_a_chain_of_follow_ups_keeps_its_topic() -> None:
    history = [
        Turn("user", "What is ReLU?"),
        Turn("assistant", "max(0, x) [1]"),
        Turn("user", "what about leaky relu?"),
        Turn("assistant", "max(0.01x, x) [1]"),
    ]
    assert contextualize("and its disadvantages?", history) == "What about leaky relu's disadvantages?"


def test_without_user_turns_the_question_is_unchanged() -> None:
    assert contextualize("and its disadvantages?", []) == "and its disadvantages?"
    assert contextualize("and its disadvantages?", [Turn("assistant", "Hello")]) == "and its disadvantages?"
