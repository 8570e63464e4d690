"""The ```python blocks of the docs pages, for the tests that run them as written."""
import pathlib
import re

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def python_blocks(page: str) -> list:
    """Every ```python block of docs/<page>, in order."""
    return re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), re.S)


def python_block(page: str, needle: str) -> str:
    """The first ```python block of docs/<page> that contains ``needle``."""
    return next(b for b in python_blocks(page) if needle in b)
