"""params/playbooks.yaml: coaching advice for every pattern, prompt playbooks, what not to ask."""
from __future__ import annotations

import shutil

import pytest

from copilot_finops.errors import UserError
from copilot_finops.params import load_playbooks
from copilot_finops.patterns import PATTERN_NAMES, check_playbooks
from copilot_finops.patterns.catalog import PATTERN_BY_NAME

from conftest import ROOT


def test_the_repositorys_playbooks_cover_every_pattern_and_the_retro_sections():
    books = load_playbooks(ROOT / "params")
    check_playbooks(books)  # raises if a pattern lacks advice
    assert set(books.patterns) == set(PATTERN_NAMES)
    for name, book in books.patterns.items():
        assert book.title == PATTERN_BY_NAME[name].title
        assert book.advice.strip() and book.what_we_see.strip() and book.first_steps
    assert books.prompt_playbooks and all(p.steps for p in books.prompt_playbooks)
    assert books.what_not_to_ask and all(a.instead for a in books.what_not_to_ask)


def test_playbook_errors_name_the_file_and_the_key(tmp_path):
    with pytest.raises(UserError, match="playbooks.yaml not found"):
        load_playbooks(tmp_path)
    shutil.copy(ROOT / "params/playbooks.yaml", tmp_path / "playbooks.yaml")
    text = (tmp_path / "playbooks.yaml").read_text().replace("    first_steps:", "    first_step:", 1)
    (tmp_path / "playbooks.yaml").write_text(text)
    with pytest.raises(UserError) as err:
        load_playbooks(tmp_path)
    assert "playbooks.yaml" in str(err.value) and "patterns.retry_no_accept.first_step" in str(err.value)


def test_a_playbook_without_advice_for_a_pattern_is_refused(tmp_path):
    text = (ROOT / "params/playbooks.yaml").read_text().replace("  off_window:", "  off_hours:", 1)
    (tmp_path / "playbooks.yaml").write_text(text)
    with pytest.raises(UserError, match="no advice for pattern.*off_window.*unknown pattern.*off_hours"):
        check_playbooks(load_playbooks(tmp_path))
