import io
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warehouse import clean
from warehouse.clean import DocumentError, normalize, stage_one

BODY = (
    "今年以来，全县新识别纳入监测对象120户365人，落实县级网格员40人，发放小额信贷3200万元，持续巩固脱贫成果。"
)


def test_jekyll_post_front_matter_links_and_source_line():
    text = (
        '---\nlayout: post\ntitle: "某县巩固脱贫成果"\ndate: 2023-06-01 10:00:00 +0800\n---\n'
        f'<p>{BODY}</p>\n<p class="em_media">（文章来源：某某日报）</p>\n\n<http://example.com/x>\n\n'
        "[返回新闻](//example.com/a)｜[返回首页](//example.com/)"
    )
    doc = stage_one(text.encode(), "jekyll", "utf-8", "a.txt")
    assert doc["title"] == "某县巩固脱贫成果"
    assert doc["published_date"] == date(2023, 6, 1)
    assert doc["publisher"] == "某某日报"
    assert doc["text"] == f"某县巩固脱贫成果\n\n{BODY}"


def test_portal_text_drops_breadcrumb_meta_and_footer():
    text = (
        "某市人民政府\n当前位置:首页 > 新闻\n平武县巩固脱贫成果综述\n发布时间:2021-11-02 来源:平武县乡村振兴局\n打印\n"
        f"{BODY}\n主办单位:平武县乡村振兴局\n地址:某路1号 邮编:622550\n蜀ICP备12345678号-1\n川公网安备 51000000000000号"
    )
    doc = stage_one(text.encode(), "portal_text", "utf-8", "a.txt")
    assert doc["title"] == "平武县巩固脱贫成果综述"
    assert doc["published_date"] == date(2021, 11, 2)
    assert doc["publisher"] == "平武县乡村振兴局"
    assert doc["region_name"] == "平武县" and doc["region_code"] == "510727"
    assert "ICP" not in doc["text"] and "邮编" not in doc["text"] and doc["text"].endswith(BODY)


def test_word_export_bookmarks_page_footers_and_two_line_title():
    text = f" 四川平武：扎实推进巩固拓展脱贫攻坚成果\n同乡村振兴有效衔接\n\n[bookmark: _GoBack]{BODY}\n\n— - 1 - —\n"
    doc = stage_one(text.encode(), "word_text", "utf-8", "a.txt")
    assert doc["title"] == "四川平武：扎实推进巩固拓展脱贫攻坚成果同乡村振兴有效衔接"
    assert "bookmark" not in doc["text"] and "- 1 -" not in doc["text"]
    assert doc["region_name"] == "平武县"


def test_html_page_drops_scripts_navigation_and_keeps_table_rows():
    page = (
        "<html><head><title>某省衔接资金</title><script>var x=1;</script><style>p{}</style></head><body>"
        "<nav><a>首页</a><a>新闻</a></nav><div class='breadcrumb'>首页 &gt; 新闻</div><h1>云南省衔接资金下达</h1>"
        f"<p>{BODY}</p><table><tr><th>州市</th><th>金额(万元)</th></tr><tr><td>昭通市</td><td>3200</td></tr></table>"
        "<footer>滇ICP备000号</footer></body></html>"
    )
    doc = stage_one(page.encode(), "html", "utf-8", "a.html")
    assert doc["title"] == "云南省衔接资金下达"
    assert "var x" not in doc["text"] and "首页" not in doc["text"] and "ICP" not in doc["text"]
    assert "州市\t金额(万元)\n昭通市\t3200" in doc["text"]


def test_docx_paragraphs_and_tables_in_document_order():
    import docx

    d = docx.Document()
    d.add_paragraph("平武县2023年巩固脱贫成果报告")
    d.add_paragraph(BODY)
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "指标", "数量"
    table.cell(1, 0).text, table.cell(1, 1).text = "公益性岗位", "320个"
    d.add_paragraph("结尾段落，继续推进乡村振兴各项工作落地见效。")
    buf = io.BytesIO()
    d.save(buf)
    doc = stage_one(buf.getvalue(), "docx", None, "a.docx")
    lines = doc["text"].split("\n")
    assert lines[0] == "平武县2023年巩固脱贫成果报告"
    assert lines[2:] == [
        BODY,
        "指标\t数量",
        "公益性岗位\t320个",
        "结尾段落，继续推进乡村振兴各项工作落地见效。",
    ]


@pytest.mark.parametrize(
    ("content", "fmt", "encoding", "reason"),
    [
        (b"\x81\x20", "text", None, "undecodable"),
        ("全县新识别纳入监测对象".encode()[:-1], "text", "utf-8", "truncated: the file ends inside a UTF-8"),
        (b"---\ntitle: x\n", "jekyll", "utf-8", "front matter not closed"),
        ("标题\n短。".encode(), "text", "utf-8", "not a report"),
        (b"%PDF", "unsupported", None, "unsupported format"),
        (b"PK\x03\x04broken", "docx", None, "unreadable .docx"),
    ],
)
def test_bad_documents_raise_with_a_reason(content, fmt, encoding, reason):
    with pytest.raises(DocumentError, match=reason):
        stage_one(content, fmt, encoding, "x")


def test_normalize_folds_full_width_digits_but_keeps_chinese_punctuation():
    assert normalize("投入１２３．４万元，占比５０％。") == "投入123.4万元，占比50%。"
    assert normalize("ldquo;好书记rdquo;") == "“好书记”"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("外出務(wù)工人數", "外出務工人數"),  # a converter's pinyin behind a traditional character
        ("共計3萬(wàn)人", "共計3萬人"),
        ("防返貧監(jiān)測對象", "防返貧監測對象"),
        ("香港(HK)報道", "香港(HK)報道"),  # not pinyin: no tone mark
        ("全縣(區)合計", "全縣(區)合計"),  # a Chinese parenthetical stays
        ("第(1)項", "第(1)項"),
        ("A(wù)字", "A(wù)字"),  # only right after a Han character
    ],
)
def test_normalize_drops_converter_pinyin_debris_only(text, expected):
    assert normalize(text) == expected


@given(st.text(max_size=300))
def test_normalize_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once


@given(
    st.text(
        alphabet=st.sampled_from("發展鄉村振興監測對象萬億乾隆著名的干部麪髮後裡台灣\n，。0123456789abc"),
        max_size=200,
    )
)
def test_the_simplified_view_keeps_every_offset(text):
    from warehouse.simplified import to_simplified

    view = to_simplified(text)
    assert len(view) == len(text)
    assert [i for i, c in enumerate(text) if c in "\n，。0123456789"] == [
        i for i, c in enumerate(view) if c in "\n，。0123456789"
    ]


@pytest.mark.parametrize(
    ("traditional", "simplified"),
    [
        ("貧困勞動力外出務工", "贫困劳动力外出务工"),
        ("防返貧監測對象", "防返贫监测对象"),
        ("鞏固拓展脫貧攻堅成果", "巩固拓展脱贫攻坚成果"),
        ("陜西靑海鄕村", "陕西青海乡村"),  # variant forms t2s leaves alone
    ],
)
def test_the_simplified_view_reads_traditional_text(traditional, simplified):
    from warehouse.simplified import to_simplified

    assert to_simplified(traditional) == simplified


@pytest.mark.parametrize(
    ("first_line", "title"),
    [
        ("全县巩固脱贫成果纪实", "全县巩固脱贫成果纪实"),
        ("2017年，全区脱贫攻坚取得决定性进展，1705个贫困村退出，15万人脱贫。", None),  # a body sentence
        ("截至目前，全县累计投入衔接资金" + "一" * 60, None),  # too long for a title
    ],
)
def test_plain_text_first_line_is_a_title_only_when_it_reads_as_one(first_line, title):
    parsed = clean.parse_plain(f"{first_line}\n第二段正文。")
    assert parsed.title == title
    assert (first_line in parsed.paragraphs) is (title is None)


def test_a_long_line_opening_with_a_wire_tag_is_body_text():
    text = "【本报讯】12月30日，据市政府新闻办消息，截至2019年底，全市585个贫困村全部脱贫出列，10352户实现脱贫。\n【打印】【关闭】"
    parsed = clean.parse_plain("标题\n" + text)
    assert parsed.paragraphs[0].startswith("【本报讯】") and "【打印】【关闭】" in parsed.meta_lines


def test_a_short_line_with_a_labelled_date_is_page_metadata():
    text = "某农业网   时间:2018-12-28    作者:佚名    来源:某日报\n正文第一段，全年完成危房改造2100户。"
    parsed = clean.parse_plain("标题\n" + text)
    assert parsed.published == date(2018, 12, 28)
    assert parsed.paragraphs == ["正文第一段，全年完成危房改造2100户。"]


def test_yaml_aliases_are_refused_not_expanded():
    laughs = (
        "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n"
    )
    text = f"---\n{laughs}title: t\n---\n<p>正文</p>\n"
    with pytest.raises(clean.DocumentError, match="aliases"):
        clean.parse_jekyll(text)


@pytest.mark.parametrize(
    ("limit", "content", "fmt", "reason"),
    [
        (
            {"max_yaml_bytes": 10},
            "---\ntitle: 一个很长的标题\n---\n<p>正文</p>".encode(),
            "jekyll",
            "front matter larger",
        ),
        ({"max_staged_chars": 50}, ("脱贫" * 100).encode(), "text", "too long"),
        ({"max_html_tags": 100}, ("<p>脱贫攻坚</p>" * 101).encode(), "html", "more than 100 HTML tags"),
        ({"max_html_depth": 50}, ("<nav>" + "<i>菜单" * 60).encode(), "html", "nested deeper than 50"),
        (
            {"max_html_tags": 10},
            ("---\ntitle: t\n---\n" + "<b>脱贫</b>" * 11).encode(),
            "jekyll",
            "HTML tags",
        ),
    ],
)
def test_parser_limits_end_in_a_reason(limit, content, fmt, reason):
    from warehouse.settings import Limits

    with pytest.raises(clean.DocumentError, match=reason):
        clean.stage_one(content, fmt, "utf-8", "x", Limits(**limit))


def test_a_docx_that_would_inflate_past_the_limit_is_refused_before_inflating():
    import io
    import zipfile

    from warehouse.settings import Limits

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"\0" * 5_000_000)  # 5 MB of zeros in a few KB
    assert len(buffer.getvalue()) < 100_000
    with pytest.raises(clean.DocumentError, match="refused before inflating"):
        clean.stage_one(
            buffer.getvalue(), "docx", None, "bomb.docx", Limits(max_docx_inflated_bytes=1_000_000)
        )


def test_mismatched_tags_in_a_skipped_region_end_with_it_and_the_body_is_kept():
    menu = "<nav>" + "<i>首页</b>" * 900 + "</nav>"  # 900 open at once: under the depth limit
    page = f"<html><body>{menu}<p>全县脱贫攻坚成果巩固，监测对象全部落实帮扶措施。</p></body></html>"
    parsed = clean.parse_html(page)
    assert parsed.paragraphs == ["全县脱贫攻坚成果巩固，监测对象全部落实帮扶措施。"]


def test_an_unclosed_title_does_not_swallow_the_page_into_the_title():
    page = "<html><head><title>标题" + "<p>脱贫攻坚</p>" * 2_000
    title = clean.parse_html(page).title
    assert title is not None and len(title) <= clean.MAX_TITLE_CHARS * 4
