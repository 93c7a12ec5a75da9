"""The shared tokenizer: positions computed from byte offsets must be libclang's own lines and columns."""

from clang import cindex

from harness.ctokens import tokenize

TRICKY = ('/* a comment\r\n over two lines */ int a;\r\n'
          'char *s = "caf\u00e9"; int b; /* \u00e9 */ int c;\r'
          '#define LONG(x) \\\n  ((x) + 1)\n'
          'int d = LONG(\n2);\n// last line without a newline')


def libclang_positions(text):
    """What libclang itself reports, one location call per number (the slow way tokenize avoids)."""
    index = cindex.Index.create()
    data = text.encode()
    tu = index.parse("t.c", args=["-x", "c", "-nostdinc"], unsaved_files=[("t.c", data)],
                     options=cindex.TranslationUnit.PARSE_INCOMPLETE)
    return [(t.spelling, t.location.line, t.location.column, t.extent.end.line, t.extent.end.column)
            for t in tu.get_tokens(extent=tu.get_extent("t.c", (0, len(data))))]


def test_positions_match_libclang_on_crlf_cr_utf8_and_continuations():
    got = [(t.text, t.line, t.col, t.end_line, t.end_col) for t in tokenize(TRICKY, "t.c")]
    assert got == libclang_positions(TRICKY)
    # bytes, not characters: two two-byte characters come before c; a lone \r ends line 3
    assert {("c", 3, 40, 3, 41), ("2", 7, 1, 7, 2)} <= set(got)


def test_kept_tokens_are_handed_out_as_new_lists():
    first = tokenize("int x;")
    first.clear()
    assert [t.text for t in tokenize("int x;")] == ["int", "x", ";"]
