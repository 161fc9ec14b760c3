"""A proposal's description is Markdown: shown as HTML, with anything a filer could inject
removed. markdown-it-py parses (CommonMark and tables, raw HTML left as text), nh3 (the
Ammonia sanitiser) then keeps only the tags and link schemes listed here."""

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

_parser = MarkdownIt("commonmark", {"html": False}).enable("table")
TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "th": {"style"}, "td": {"style"}, "ol": {"start"}}


def markdown_html(text: str) -> SafeString:
    """The Markdown as sanitised HTML, safe to put in a page as it is."""
    html = _parser.render(text or "")
    clean = nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        filter_style_properties={"text-align"},
    )
    return mark_safe(clean)  # noqa: S308  (nh3 has just removed everything not listed above)
