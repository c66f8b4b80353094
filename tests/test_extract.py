"""Extraction rules on sentences written for these tests (not taken from the sample documents)."""

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.extract import MAX_SENTENCE_CHARS, SENTENCE_END, analyze, make_doc, spans


def facts_of(
    body: str, region: str | None = "513400", published: date | None = date(2023, 7, 1), title: str = "标题"
):
    row = {
        "doc_id": "d" * 64,
        "title": title,
        "text": f"{title}\n\n{body}",
        "region_code": region,
        "published_date": published,
        "arrival_date": date(2023, 7, 2),
    }
    return analyze(make_doc(row))[1]


def pairs(body: str, **kw):
    return sorted((f["indicator"], f["value"]) for f in facts_of(body, **kw))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "全州累计减贫3.2万户12.5万人。",
            [("poverty_exit_households", 32000), ("poverty_exit_population", 125000)],
        ),
        (
            "脱贫户人均纯收入由3100元增加到9050元。",
            [("poor_per_capita_income", 3100), ("poor_per_capita_income", 9050)],
        ),
        (
            "全年新识别纳入监测对象412户1380人。",
            [("monitored_households_new", 412), ("monitored_population_new", 1380)],
        ),
        (
            "监测对象累计达到2.1万户7.4万人。",
            [("monitored_households_total", 21000), ("monitored_population_total", 74000)],
        ),
        (
            "已消除风险1.3万户4.6万人，风险消除率64.2%。",
            [
                ("risk_eliminated_households", 13000),
                ("risk_eliminated_population", 46000),
                ("risk_elimination_rate", 64.2),
            ],
        ),
        (
            "选派驻村第一书记412名、驻村工作队员1236名。",
            [("first_secretaries", 412), ("village_team_members", 1236)],
        ),
        (
            "新选派620名第一书记和1800名工作队员进驻。",
            [("first_secretaries", 620), ("village_team_members", 1800)],
        ),
        ("下达衔接推进乡村振兴补助资金8.6亿元。", [("bridging_funds", 860000000)]),
        ("争取以工代赈项目资金1260万元。", [("work_relief_funds", 12600000)]),
        ("安排东西部协作资金2.35亿元。", [("east_west_cooperation_funds", 235000000)]),
        (
            "新增发放脱贫人口小额信贷3.4亿元，累计发放小额信贷28.7亿元。",
            [("microcredit_cumulative", 2870000000), ("microcredit_new", 340000000)],
        ),
        ("开发公益性岗位5600个。", [("public_welfare_jobs", 5600)]),
        ("确定乡村振兴重点帮扶村86个。", [("key_assistance_villages", 86)]),
        ("全州有11个国家乡村振兴重点帮扶县。", [("key_assistance_counties", 11)]),
        ("农村低保标准提高到4800元。", [("subsistence_allowance_standard", 4800)]),
        ("完成农村危房改造3260户。", [("dilapidated_houses_renovated", 3260)]),
        ("累计完成2.2万人易地扶贫搬迁。", [("relocated_population", 22000)]),
        ("全州脱贫劳动力务工就业31.6万人。", [("employed_poverty_labor", 316000)]),
        ("纳入农村低保和特困供养8900人。", [("social_assistance_population", 8900)]),
        ("落实产业发展资金4.2亿元。", [("industry_development_funds", 420000000)]),
        ("消费帮扶销售帮扶产品金额达6.3亿元。", [("consumption_assistance_sales", 630000000)]),
        ("组织2.4万名网格员开展排查。", [("grid_workers", 24000)]),
        ("今年防返贫监测收入标准确定为6800元。", [("monitoring_income_threshold", 6800)]),
        # the 脱贫攻坚 years' wording
        (
            "全县去年脱贫退出1200户4300人。",
            [("poverty_exit_households", 1200), ("poverty_exit_population", 4300)],
        ),
        (
            "五年间共有3120户11800人摘掉了贫困帽子。",
            [("poverty_exit_households", 3120), ("poverty_exit_population", 11800)],
        ),
        ("全县38个贫困村全部销号。", [("poor_villages_exited", 38)]),
        ("当年又有17个贫困村整村脱贫。", [("poor_villages_exited", 17)]),
        (
            "全市共识别纳入防返贫监测对象2.6万户8.8万人。",
            [("monitored_households_total", 26000), ("monitored_population_total", 88000)],
        ),
        (
            "已消除风险的监测对象930户3100人。",
            [("risk_eliminated_households", 930), ("risk_eliminated_population", 3100)],
        ),
    ],
)
def test_indicator_cues(body, expected):
    got = pairs(body)
    assert [k for k, _ in got] == sorted(k for k, _ in expected)
    assert [v for _, v in got] == pytest.approx([v for _, v in sorted(expected)])


@pytest.mark.parametrize(
    "body",
    [
        "计划新增公益性岗位3000个。",  # plan
        "力争全年脱贫人口务工就业达到30万人。",  # target
        "培训驻村第一书记和工作队员1.2万人次。",  # training, person-times
        "集中培训驻村工作队员3600人。",  # training count
        "脱贫人口人均纯收入同比增长12.3%。",  # growth rate
        "联系电话：0837-2345678，邮编：624000。",  # phone, postcode
        "根据〔2022〕15号文件第十二条规定执行。",  # document and article numbers
        "82岁的脱贫户王某月收入2000元。",  # one family's income, age
        "农村劳动力转移就业26.8万人。",  # all rural labour, not poverty-exit labour
        "每个重点帮扶村按不低于100万元标准安排。",  # per-village standard
        "招引企业落地5家，到位投资3.6亿元。",  # investment attracted
        "打造乡村振兴示范村52个。",  # demonstration villages
    ],
)
def test_numbers_that_are_not_facts(body):
    assert facts_of(body) == []


def test_subset_clause_inherits_the_indicator_and_names_its_own_region():
    facts = facts_of("全州确定乡村振兴重点帮扶村120个，其中，西昌市45个。")
    assert [(f["value"], f["region_name"]) for f in facts] == [(120, "凉山彝族自治州"), (45, "西昌市")]


def test_sentence_opening_with_qizhong_continues_the_previous_one():
    body = "全州新识别监测对象900户3000人。\n\n其中，冕宁县200户700人；盐源县150户520人。"
    found = [(f["indicator"], f["value"], f["region_name"]) for f in facts_of(body)]
    assert found[2:] == [
        ("monitored_households_new", 200, "冕宁县"),
        ("monitored_population_new", 700, "冕宁县"),
        ("monitored_households_new", 150, "盐源县"),
        ("monitored_population_new", 520, "盐源县"),
    ]


def test_region_is_the_nearest_place_before_the_number_else_the_document_region():
    facts = facts_of("2022年，盐源县到位衔接资金2.1亿元，全州到位衔接资金30.5亿元。")
    assert [(f["value"], f["region_name"]) for f in facts] == [(2.1e8, "盐源县"), (3.05e9, "凉山彝族自治州")]


def test_national_figures_quoted_for_context():
    (fact,) = facts_of("全国累计发放脱贫人口小额信贷9000亿元。")
    assert (fact["region_name"], fact["region_code"]) == ("全国", "000000")


@pytest.mark.parametrize(
    ("body", "years"),
    [
        ("贫困人口人均纯收入从2014年的2800元增加到2020年的9100元。", [2014, 2020]),
        ("去年开发公益性岗位2100个。", [2022]),
        ("截至6月底，新增小额信贷2.2亿元。", [2023]),
        ("2021年开发公益性岗位900个。全县开发公益性岗位1100个。", [2021, 2021]),
        ("全县开发公益性岗位1100个。", [2023]),
        ("“十三五”期间，全县累计减贫1.2万人。", [2020]),
        ("今年全县到位衔接资金由去年的2.3亿元增加到2.8亿元。", [2022, 2023]),
        ("今年全县开发公益性岗位1200个，比去年增加100个；新识别纳入监测对象86户。", [2023, 2023]),
        ("十二五末，全县开发公益性岗位300个。", [2015]),
        ("“十四五”以来，全县开发公益性岗位640个。", [2023]),
    ],
)
def test_years(body, years):
    assert [f["year"] for f in facts_of(body)] == years


def test_months_after_the_publication_month_are_last_year():
    facts = facts_of("截至12月底，全县开发公益性岗位900个。", published=date(2024, 1, 10))
    assert [f["year"] for f in facts] == [2023]


def test_undated_document_takes_the_latest_year_it_names():
    assert [f["year"] for f in facts_of("2022年度考核以后，今年开发公益性岗位70个。", published=None)] == [
        2022
    ]


def test_traditional_characters_are_read_and_offsets_stay_on_the_staged_text():
    body = "今年以來，全縣新識別納入監測對象230戶780人，開發公益性崗位1500個。"
    facts = facts_of(body, region="410225")
    assert sorted(f["indicator"] for f in facts) == [
        "monitored_households_new",
        "monitored_population_new",
        "public_welfare_jobs",
    ]
    text = f"标题\n\n{body}"
    for f in facts:
        assert text[f["char_start"] : f["char_end"]] == f["mention"] and f["mention"] in f["evidence"]
        assert f["region_name"] == "兰考县"


def test_repeated_figure_is_one_fact():
    assert len(facts_of("确定重点帮扶村42个。针对42个重点帮扶村编制规划。")) == 1


def test_table_with_caption_unit_and_year_columns():
    body = (
        "表2  重点帮扶县衔接资金到位情况\n单位：万元\n县\t2021年\t2022年\t增幅（%）\n"
        "盐源县\t21500\t23800\t10.7\n木里藏族自治县\t18200\t19100\t4.9"
    )
    got = sorted((f["region_name"], f["year"], f["value"], f["indicator"]) for f in facts_of(body))
    assert got == [
        ("木里藏族自治县", 2021, 1.82e8, "bridging_funds"),
        ("木里藏族自治县", 2022, 1.91e8, "bridging_funds"),
        ("盐源县", 2021, 2.15e8, "bridging_funds"),
        ("盐源县", 2022, 2.38e8, "bridging_funds"),
    ]


def test_table_with_unit_column_skips_target_column():
    body = "2022年主要指标\n序号\t指标\t单位\t年度目标\t完成值\n1\t开发公益性岗位\t个\t1500\t1620\n2\t新增小额信贷\t万元\t5000\t6150"
    facts = facts_of(body)
    assert sorted((f["indicator"], f["value"]) for f in facts) == [
        ("microcredit_new", 61500000.0),
        ("public_welfare_jobs", 1620.0),
    ]
    text = f"标题\n\n{body}"
    assert all(text[f["char_start"] : f["char_end"]] == f["mention"] for f in facts)


def test_enumeration_items_that_name_their_place_keep_the_indicator():
    body = "全市下达衔接推进乡村振兴补助资金5200万元，其中旺苍县800万元、苍溪县650万元、剑阁县720万元。"
    got = sorted((f["region_name"], f["value"]) for f in facts_of(body, region="510800"))
    assert got == [("剑阁县", 7.2e6), ("广元市", 5.2e7), ("旺苍县", 8e6), ("苍溪县", 6.5e6)]
    # an item that is not a place does not inherit: 培训 counts are not funds
    assert pairs("下达衔接推进乡村振兴补助资金5200万元、培训1200人次。", region="510800") == [
        ("bridging_funds", 5.2e7)
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # 2014–2020 campaign phrasing
        ("五年来全县减少贫困人口3.6万人。", [("poverty_exit_population", 36000)]),
        (
            "全县累计脱贫退出42个贫困村、5210户20480人。",
            [
                ("poor_villages_exited", 42),
                ("poverty_exit_households", 5210),
                ("poverty_exit_population", 20480),
            ],
        ),
        ("全县30个贫困村中已经有27个退出。", [("poor_villages_exited", 27)]),
        (
            "全县贫困村去年出列9个，今年出列12个。",
            [("poor_villages_exited", 9), ("poor_villages_exited", 12)],
        ),
        (
            "当年剩余的1.1万贫困人口、35个贫困村全部如期脱贫。",
            [("poor_villages_exited", 35), ("poverty_exit_population", 11000)],
        ),
        ("全县贫困人口总数为8200户30100人。", [("registered_poor_population", 30100)]),
        ("先后共识别出12.6万贫困人口并录入系统。", [("registered_poor_population", 126000)]),
        ("3.2万建档立卡贫困人口实现脱贫。", [("poverty_exit_population", 32000)]),
        # relocation, housing, standards
        ("完成异地扶贫搬迁1.8万人。", [("relocated_population", 18000)]),
        ("累计搬迁入住4200人。", [("relocated_population", 4200)]),
        ("全州2.3万建档立卡贫困人口已搬进新居。", [("relocated_population", 23000)]),
        ("今年新增改造420户危房。", [("dilapidated_houses_renovated", 420)]),
        ("1.2万户农村危房全部改造完毕。", [("dilapidated_houses_renovated", 12000)]),
        ("农村低保平均标准达到5200元。", [("subsistence_allowance_standard", 5200)]),
        ("防止返贫监测范围为家庭年人均纯收入不低于7300元。", [("monitoring_income_threshold", 7300)]),
        # employment and posts
        ("贫困劳动力外出务工达2.1万人。", [("employed_poverty_labor", 21000)]),
        ("全州已外出务工贫困劳动力36.5万人。", [("employed_poverty_labor", 365000)]),
        ("全县脱贫人口实现就业1800人。", [("employed_poverty_labor", 1800)]),
        ("帮助8600名贫困劳动力稳定就业。", [("employed_poverty_labor", 8600)]),
        ("务工人员45000人，其中脱贫人口39000人。", [("employed_poverty_labor", 39000)]),
        ("聘用92名公益岗位人员。", [("public_welfare_jobs", 92)]),
        # funds and credit
        ("新增小额贷款1260户5400万元。", [("microcredit_new", 5.4e7)]),
        ("本月新增贷款40笔182万元，用于扶贫小额信贷。", [("microcredit_new", 1.82e6)]),
        ("累计向9800户脱贫户发放小额信贷4.6亿元。", [("microcredit_cumulative", 4.6e8)]),
        ("投入财政扶贫资金3.4亿元。", [("poverty_alleviation_funds", 3.4e8)]),
        ("全年安排12亿元用于产业发展。", [("industry_development_funds", 1.2e9)]),
        ("东部帮扶省份消费扶贫金额86.2亿元。", [("consumption_assistance_sales", 8.62e9)]),
        # monitoring and people sent to villages
        (
            "落实9户31人新识别监测对象帮扶措施。",
            [("monitored_households_new", 9), ("monitored_population_new", 31)],
        ),
        (
            "目前三类监测对象240户760人。",
            [("monitored_households_total", 240), ("monitored_population_total", 760)],
        ),
        ("从42家单位中选派队员96名。", [("village_team_members", 96)]),
        ("全市选派3100名干部组成980支工作队。", [("village_team_members", 3100)]),
        ("组建网格，以村为单位设立2100名监测员。", [("grid_workers", 2100)]),
    ],
)
def test_campaign_and_stock_phrasing(body, expected):
    got = pairs(body)
    assert [k for k, _ in got] == sorted(k for k, _ in expected)
    assert [v for _, v in got] == pytest.approx([v for _, v in sorted(expected)])


@pytest.mark.parametrize(
    "body",
    [
        "截至目前，还有未脱贫人口320户960人。",  # people still poor
        "剩余的410户1300人已达到脱贫标准。",  # reaching a standard, remainder
        "确保年内实现60个贫困村退出。",  # a goal
        "已消除风险的监测对象30户90人，未消除风险的监测对象4户11人。",  # only the eliminated pair counts
        "累计发放产业扶贫项目贷款2.3亿元。",  # loans to projects are not microcredit
    ],
)
def test_remainders_goals_and_project_loans_are_not_facts(body):
    values = [f["value"] for f in facts_of(body)]
    assert not {960, 1300, 60, 11, 2.3e8} & set(values)


def test_parts_listed_after_qizhong_take_the_totals_indicator():
    body = "全县公益岗位安置3200人，其中护林员900人，保洁员1100人，其他1200人。"
    assert pairs(body) == [("public_welfare_jobs", v) for v in (900, 1100, 1200, 3200)]


def test_subsistence_standard_raised_from_a_year_to_now():
    body = "县农村低保标准连年提高，从2019年的每人每年4200元提高到现在的每人每年5600元。"
    got = sorted(
        (f["value"], f["year"]) for f in facts_of(body) if f["indicator"] == "subsistence_allowance_standard"
    )
    assert [v for v, _ in got] == [4200, 5600] and got[0][1] == 2019


def test_comparison_bases_and_history_do_not_date_a_figure():
    assert [f["year"] for f in facts_of("外出务工贫困劳动力已达3.2万人，是去年外出务工人数的108%。")] == [
        2023
    ]
    body = "1985年全区农村贫困人口一度超过1000万。全区共识别出210万贫困人口。"
    assert [(f["value"], f["year"]) for f in facts_of(body, region="450000")] == [(2.1e6, 2023)]


def test_annual_review_published_early_next_year_speaks_of_its_year():
    facts = facts_of("今年以来新增公益性岗位300个。", published=date(2024, 1, 8), title="某县2023年工作总结")
    assert [f["year"] for f in facts] == [2023]


def test_regions_from_brackets_paragraph_topics_and_level_words():
    # a bracketed comparison names no subject
    (fact,) = facts_of("累计搬迁入住6300人(高于全省3个百分点)，住房竣工率90%。", region="530500")
    assert fact["region_name"] == "保山市"
    (fact,) = facts_of("搬迁住房竣工率89%(高于全省5个百分点)，累计搬迁入住6300人。", region="530500")
    assert fact["region_name"] == "保山市"
    # a sentence continues the county its paragraph's previous sentence was about
    body = "龙陵县经过动态调整，贫困人口总数达64204人。累计脱贫退出19个贫困村。"
    assert [f["region_name"] for f in facts_of(body, region="530500")] == ["龙陵县", "龙陵县"]
    # …but not after a list of parts
    body = "其中，腾冲市800万元；龙陵县600万元。市级财政安排衔接资金1200万元。"
    facts = facts_of(f"全市下达衔接资金9000万元。{body}", region="530500")
    assert {f["value"]: f["region_name"] for f in facts}[1.2e7] == "保山市"


def test_autonomous_region_reference_follows_the_last_one_named():
    body = "全国脱贫人口人均纯收入14000元。宁夏回族自治区作了发言，自治区脱贫人口人均纯收入13210元。"
    got = {f["value"]: f["region_name"] for f in facts_of(body, region="000000")}
    assert got == {14000: "全国", 13210: "宁夏回族自治区"}


def test_cooperation_funds_belong_to_the_recipient():
    body = "浙江省12亿元财政援助资金已经到位。"
    assert [f["region_name"] for f in facts_of(body, region="510000")] == ["四川省"]


def test_a_towns_own_report_keeps_the_town():
    body = "一、城关镇本月新识别监测对象3户11人。\n二、目前全镇共有三类监测对象40户130人。"
    facts = facts_of(body, region=None, title="")
    assert {(f["region_name"], f["region_level"], f["region_code"]) for f in facts} == {
        ("城关镇", "town", None)
    }
    body = "据了解，安化县小淹镇新识别监测对象6户20人。"
    facts = facts_of(body, region="430923")
    assert {(f["region_name"], f["region_code"]) for f in facts} == {("小淹镇", "430923")}


def test_years_after_bi_are_bases_and_quannian_follows_the_text():
    body = "2021年脱贫人口人均纯收入12550元，比2020年增加1790元。3100万脱贫劳动力外出务工，比2020年增长3.6%。"
    assert [f["year"] for f in facts_of(body, region="000000")] == [2021, 2021]
    body = "2021年是衔接起步之年。全年新增发放脱贫人口小额信贷650亿元。"
    assert [f["year"] for f in facts_of(body, region="000000", published=date(2022, 1, 5))] == [2021]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("今年一季度，全市累计发放扶贫小额贷款3.2亿元。", [("microcredit_new", 3.2e8)]),
        (
            "从2016年至今共为500户贫困户发放贷款2100万元，用于扶贫小额信贷。",
            [("microcredit_cumulative", 2.1e7)],
        ),
        ("中省1.5亿元财政扶贫资金已下达各县区。", [("poverty_alleviation_funds", 1.5e8)]),
        ("开发保洁员公益性岗位，安置贫困人员320人。", [("public_welfare_jobs", 320)]),
    ],
)
def test_lending_periods_funds_after_the_amount_and_posts_filled(body, expected):
    assert pairs(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # housing: the verb before the houses, a modifier inside 危房…改造, a repeated verb continues the figure
        ("全年改造建档立卡贫困户危房870户。", [("dilapidated_houses_renovated", 870)]),
        ("当年完成340户脱贫户危房改造。", [("dilapidated_houses_renovated", 340)]),
        (
            "全年完成C级危房加固改造1.4万户，2016年以来共完成2.9万户。",
            [("dilapidated_houses_renovated", 14000), ("dilapidated_houses_renovated", 29000)],
        ),
        # a figure in brackets right after a total is a part of it
        (
            "危房改造6200户（今年实施1900户），已全部入住。",
            [("dilapidated_houses_renovated", 1900), ("dilapidated_houses_renovated", 6200)],
        ),
        # an aside in brackets between the words and the figure is skipped; 含 inside it names no part
        (
            "已搬迁入住（含交房）2100户、7300人。",
            [("relocated_population", 7300)],
        ),
        ("建成40个安置点，1.9万人搬迁入住。", [("relocated_population", 19000)]),
        # identification and the registered stock
        ("共识别出贫困对象3万户9.5万人。", [("registered_poor_population", 95000)]),
        ("全市建档立卡相对贫困人口2100户6800人。", [("registered_poor_population", 6800)]),
        ("将2.4万建档立卡贫困对象纳入最低生活保障兜底。", [("social_assistance_population", 24000)]),
        # funds and credit
        ("全年共投入扶贫资金18.6亿元。", [("poverty_alleviation_funds", 1.86e9)]),
        ("投入财政专项扶贫发展资金7.2亿元。", [("poverty_alleviation_funds", 7.2e8)]),
        ("全县共发放扶贫小额贷款1.3亿元。", [("microcredit_cumulative", 1.3e8)]),
        ("全省320个省扶贫工作重点村全部退出。", [("poor_villages_exited", 320)]),
    ],
)
def test_housing_relocation_identification_and_fund_phrasing(body, expected):
    got = pairs(body)
    assert [k for k, _ in got] == [k for k, _ in sorted(expected)]
    assert [v for _, v in got] == pytest.approx([v for _, v in sorted(expected)])


@pytest.mark.parametrize(
    ("body", "not_values"),
    [
        ("全省今年计划完成8万人脱贫，实现260个贫困村出列。", {80000, 260}),  # a plan earlier in the sentence
        ("今年全市将努力实现3万贫困人口脱贫、95个贫困村退出。", {30000, 95}),  # 将…实现: the coming year
        ("12万人脱贫 300个贫困村退出 4个贫困县摘帽", {4}),  # a count of counties is not villages
        ("全县58个贫困村中累计出列51个。", {58}),  # the verb belongs to the second figure
        ("安排资金中，国家级重点帮扶县9个，申报的6个边境县中5个获得支持。", {6, 5}),  # other counties
    ],
)
def test_plans_other_counties_and_verbs_of_the_next_figure(body, not_values):
    assert not_values.isdisjoint({f["value"] for f in facts_of(body)})
    if "51个" in body:
        assert ("poor_villages_exited", 51) in pairs(body)


def test_a_span_start_does_not_set_the_year_of_undated_figures():
    body = "2015年以来累计投入大量资金。2015年以来成效明显。全年完成危房改造2100户。"
    got = facts_of(body, published=date(2018, 12, 28))
    assert [(f["value"], f["year"]) for f in got] == [(2100, 2018)]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # a breakdown in brackets belongs to the pair before it; its 脱贫不稳定户 is a monitoring category
        (
            "年末监测对象总数为900户3000人（脱贫不稳定户300户1000人、边缘易致贫户600户2000人）。",
            [
                ("monitored_households_total", 300),
                ("monitored_households_total", 600),
                ("monitored_households_total", 900),
                ("monitored_population_total", 1000),
                ("monitored_population_total", 2000),
                ("monitored_population_total", 3000),
            ],
        ),
        # the parts of a total that is no fact inherit nothing from an earlier figure
        (
            "累计消除风险50户160人，未消除风险20户70人（脱贫不稳定户8户30人）。",
            [
                ("risk_eliminated_households", 50),
                ("risk_eliminated_population", 160),
            ],
        ),
        # after 其中, a sibling part does not lend its indicator to the next part
        ("就业人口5000人，其中脱贫人口4200人、边缘户300人。", [("employed_poverty_labor", 4200)]),
        # quotation marks and 全年累计新增 (new within the year)
        (
            "全年累计新增识别“三类对象”120户410人。",
            [
                ("monitored_households_new", 120),
                ("monitored_population_new", 410),
            ],
        ),
        (
            "全县8.2万户21万名监测对象落实了帮扶措施。",
            [
                ("monitored_households_total", 82000),
                ("monitored_population_total", 210000),
            ],
        ),
        ("67.5%的监测对象已稳定消除返贫致贫风险。", [("risk_elimination_rate", 67.5)]),
        # bare 退出 in a list of years, 脱贫人口…户, 共有 stocks
        (
            "全镇贫困村2017年退出2个、2019年退出5个。",
            [("poor_villages_exited", 2), ("poor_villages_exited", 5)],
        ),
        (
            "脱贫人口0.9万户、2.4万人。",
            [("poverty_exit_households", 9000), ("poverty_exit_population", 24000)],
        ),
        ("全市共有建档立卡贫困户3100户，贫困人口8800人。", [("registered_poor_population", 8800)]),
        # the cadres named right after the figure, income per head, funds for industry
        ("选派了4200名驻村干部和第一书记。", [("village_team_members", 4200)]),
        ("脱贫人口每人平均纯收入达9100元。", [("poor_per_capita_income", 9100)]),
        ("至今累计投入产业扶贫资金3.6亿元。", [("industry_development_funds", 3.6e8)]),
        ("目前全县脱贫劳动力返岗复工2600人。", [("employed_poverty_labor", 2600)]),
        ("脱贫群众务工规模达到6.1万人。", [("employed_poverty_labor", 61000)]),
    ],
)
def test_monitoring_breakdowns_categories_and_stocks(body, expected):
    got = pairs(body)
    assert [k for k, _ in got] == [k for k, _ in sorted(expected)]
    assert [v for _, v in got] == pytest.approx([v for _, v in sorted(expected)])


@pytest.mark.parametrize(
    ("body", "not_values"),
    [
        ("带动脱贫户3300户发展产业。", {3300}),  # beneficiaries, not exits
        ("将通过发展生产实现20万人脱贫。", {200000}),  # 将…实现: a plan
        ("脱贫群众和监测对象务工规模达到5万人。", set()),  # checked below: employment, not a stock
    ],
)
def test_beneficiaries_plans_and_employment_scale(body, not_values):
    got = facts_of(body)
    assert not_values.isdisjoint({f["value"] for f in got})
    if "务工规模" in body:
        assert [(f["indicator"], f["value"]) for f in got] == [("employed_poverty_labor", 50000)]


def test_funds_from_the_region_level_go_to_the_county_named_as_recipient():
    body = "下达我县2025年自治区财政衔接推进乡村振兴补助资金3100万元。"
    assert [f["region_name"] for f in facts_of(body, region="150821")] == ["五原县"]


def test_a_report_in_a_towns_voice_names_its_town_most_often():
    body = (
        "近年来，全镇工作取得进展。\n一、基本情况\n\n石门镇下辖12个村，东与河口乡相连。"
        "石门镇全年减贫80户260人。"
    )
    facts = facts_of(body, region=None, title="工作情况汇报")
    assert {(f["region_name"], f["region_level"]) for f in facts} == {("石门镇", "town")}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "全镇共有脱贫户900户2800人，监测户70户190人。",
            [
                ("monitored_households_total", 70),
                ("monitored_population_total", 190),
            ],
        ),
        ("全年新增监测对象35户96人。", [("monitored_households_new", 35), ("monitored_population_new", 96)]),
        ("全县脱贫劳动力务工总数6.2万人。", [("employed_poverty_labor", 62000)]),
        ("全年实现消费帮扶4.6亿元。", [("consumption_assistance_sales", 4.6e8)]),
        ("监测对象风险消除率达71.5%。", [("risk_elimination_rate", 71.5)]),
        ("52.3%的监测对象已消除返贫风险。", [("risk_elimination_rate", 52.3)]),
        ("选派1200名年轻干部到村担任党组织第一书记。", [("first_secretaries", 1200)]),
        ("东西部扶贫协作累计到位资金12.3亿元。", [("east_west_cooperation_funds", 1.23e9)]),
        ("累计实现42.1万建档立卡农村贫困人口脱贫。", [("poverty_exit_population", 421000)]),
    ],
)
def test_stock_labels_new_monitoring_rates_and_cooperation_funds(body, expected):
    assert pairs(body) == sorted(expected)


@pytest.mark.parametrize(
    "body",
    [
        "今年要再实现8万贫困人口脱贫、200个贫困村退出。",  # 要实现: a goal
        "新增发放小额信贷1.1亿元，惠及脱贫户和监测户2600户。",  # beneficiaries, not the monitored stock
        "其中未消除风险监测户40户120人。",  # the part still at risk
    ],
)
def test_goals_beneficiaries_and_the_part_at_risk_are_not_stocks(body):
    got = {(f["indicator"], f["value"]) for f in facts_of(body)}
    assert not {i for i, _ in got} & {
        "poverty_exit_population",
        "poor_villages_exited",
        "monitored_households_total",
        "monitored_population_total",
    }


def test_a_group_broken_down_by_age_or_education_gives_no_facts():
    body = "新选派第一书记800名。其中，45岁以下的有600人，本科以上学历的有700人，包括9名博士。"
    assert pairs(body) == [("first_secretaries", 800)]


def test_a_provincial_text_naming_only_its_stationed_units_speaks_for_that_province():
    from warehouse import regions

    body = "记者从区直中直驻桂单位动员会上获悉，我区新增派第一书记驻村。"
    assert regions.document_region("", "", "", body, body) == "450000"


def roles(body: str, **kw) -> dict[float, tuple[str, float | None]]:
    """value → (role, value of the fact it belongs to)."""
    got = facts_of(body, **kw)
    by_id = {f["fact_id"]: f["value"] for f in got}
    return {f["value"]: (f["role"], by_id.get(f["part_of"])) for f in got}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("贫困户人均纯收入由3100元增加到9400元。", {3100: ("change_start", 9400), 9400: ("value", None)}),
        (
            "全县投入衔接资金5亿元，其中中央衔接资金3亿元。",
            {5e8: ("value", None), 3e8: ("part", 5e8)},
        ),
        (
            "监测对象90户300人（脱贫不稳定户40户120人）。",
            {90: ("value", None), 300: ("value", None), 40: ("part", 90), 120: ("part", 300)},
        ),
        (
            "县级网格30人、乡镇网格200人、村级网格1800人。",
            {30: ("part", None), 200: ("part", None), 1800: ("part", None)},
        ),
        ("统筹衔接资金8000万元主要用于产业项目。", {8e7: ("part", None)}),
        ("新增小额信贷2000-3000万元。", {2e7: ("range_low", 3e7), 3e7: ("range_high", 2e7)}),
        ("全年减贫1200人。", {1200: ("value", None)}),
    ],
)
def test_fact_roles_say_how_a_figure_relates_to_the_others(body, expected):
    assert roles(body) == expected


def test_bracket_items_belong_to_the_total_not_to_their_siblings():
    got = roles("监测对象60户199人（甲类24户80人、乙类18户60人）。")
    assert got[24] == ("part", 60) and got[18] == ("part", 60)
    assert got[80] == ("part", 199) and got[60] == ("part", 199)


def test_a_change_to_the_same_value_is_no_change_start():
    got = facts_of("农村低保标准由每人每年5000元提高到5000元。")
    assert all(f["part_of"] != f["fact_id"] for f in got)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="脱贫户人，、；。\n12", max_size=400), st.integers(min_value=5, max_value=60))
def test_capped_spans_tile_the_text_and_none_is_longer_than_the_cap(text, cap):
    pieces = spans(text, SENTENCE_END, cap, "，、；")
    assert "".join(text[lo:hi] for lo, hi in pieces) == text
    assert all(lo < hi <= lo + cap for lo, hi in pieces)
    assert all(lo == prev_hi for (_, prev_hi), (lo, _) in zip(pieces, pieces[1:], strict=False))


def test_a_run_on_sentence_is_cut_at_clauses_and_its_figures_still_read():
    clause = "全县新识别纳入监测对象412户，"
    doc = make_doc(
        {
            "doc_id": "d" * 64,
            "title": "标题",
            "text": "标题\n\n" + clause * 400,  # 6,400 characters, no sentence end
            "region_code": "513400",
            "published_date": date(2023, 7, 1),
            "arrival_date": date(2023, 7, 2),
        }
    )
    assert max(hi - lo for lo, hi in doc.sentences) <= MAX_SENTENCE_CHARS
    assert all(doc.view[hi - 1] in "，\n" for lo, hi in doc.sentences[:-1])  # cut after a clause
    facts = analyze(doc)[1]
    assert {(f["indicator"], f["value"]) for f in facts} == {("monitored_households_new", 412)}
