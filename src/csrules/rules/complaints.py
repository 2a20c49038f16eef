"""Complaints and enquiries: routing, reply deadlines, escalations and duties.

Four tables, evaluated in order, each reading the facts of the complaint and
the outcomes of the tables before it:

1. :data:`COMPLAINT_ROUTE` (unique hit): which department answers and by when
   (B2C-5), or customer service itself.
2. :data:`COMPLAINT_REPLY` (first hit): by when the customer gets a reply
   (B2C-8.3, B2C-8.5, B2C-8.10).
3. :data:`COMPLAINT_ESCALATION` (collect): the customer-service head
   (B2C-7.16.3) and the general manager (B2C-8.7).
4. :data:`COMPLAINT_DUTIES` (collect): what else the agent must do.

Two facts come from the stream of complaints rather than from the complaint
itself: ``repeat_complaint`` (B2C-8.7.1) and ``quality_reports_exceeded``
(B2C-8.7.5). :func:`decide_complaint` sets them from the escalations an
escalation monitor reports for the complaint.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Mapping
from typing import Any, Final

from csrules._decision import (
    ComplaintDecision,
    Escalation,
    make_trace,
)
from csrules._domain import (
    Channel,
    Complaint,
    Department,
    Topic,
    check_instance,
    check_not_before,
)
from csrules._ruleset import FactSpec, KindSpec, RuleSet, kind_and_policy
from csrules.exceptions import ArgumentTypeError
from csrules.policy import ParameterSet, Policy
from csrules.rules._expr import TRUE, Expr, call, fact, param
from csrules.rules._stream_rules import StreamCount, StreamRule
from csrules.rules._table import HitPolicy, Rule, Table, TableResult, mark_bundled

__all__ = [
    "COMPLAINT_DUTIES",
    "COMPLAINT_ESCALATION",
    "COMPLAINT_FACTS",
    "COMPLAINT_KIND",
    "COMPLAINT_REPLY",
    "COMPLAINT_ROUTE",
    "COMPLAINT_TABLES",
    "FINANCE_TOPICS",
    "OPERATIONS_CATALOGUE_TOPICS",
    "OPERATIONS_FAULT_TOPICS",
    "QUALITY_REPORTS_CLAUSE",
    "QUALITY_TOPICS",
    "REPEAT_COMPLAINT_CLAUSE",
    "STREAM_RULES",
    "TECHNOLOGY_TOPICS",
    "check_complaint",
    "complaint_facts",
    "decide_complaint",
]

#: Matters Finance answers (B2C-5): payment verification, historical order total.
FINANCE_TOPICS: Final = (Topic.PAYMENT_VERIFICATION, Topic.ORDER_TOTAL_QUERY)
#: Catalogue suggestions, which Operations answers (B2C-5).
OPERATIONS_CATALOGUE_TOPICS: Final = (Topic.CATALOGUE_SUGGESTION,)
#: Product and fulfilment faults Operations answers (B2C-5). ``extra_or_wrong_items``
#: is read as B2C-5's "shipped, but the quantity does not match the order".
OPERATIONS_FAULT_TOPICS: Final = (
    Topic.PRODUCT_DEFECT,
    Topic.SIZE_NOT_AS_LABELLED,
    Topic.COLOUR_DIFFERENCE,
    Topic.DAMAGED_GOODS,
    Topic.WRONG_QUANTITY,
    Topic.TAG_MISSING,
    Topic.PACKAGING_DAMAGED,
    Topic.EXTRA_OR_WRONG_ITEMS,
)
#: System failures Technology answers (B2C-5); ``website_bug`` is a system failure.
TECHNOLOGY_TOPICS: Final = (
    Topic.CANNOT_ORDER,
    Topic.CANNOT_PAY_ONLINE,
    Topic.PASSWORD_RESET_FAILED,
    Topic.WEBSITE_BUG,
)
#: Quality problems, which JD-5 hands to the person responsible.
QUALITY_TOPICS: Final = (
    Topic.PRODUCT_DEFECT,
    Topic.SIZE_NOT_AS_LABELLED,
    Topic.COLOUR_DIFFERENCE,
    Topic.DAMAGED_GOODS,
)
#: Clause of a stream escalation meaning "the same customer complained twice".
REPEAT_COMPLAINT_CLAUSE: Final = "B2C-8.7.1"
#: Clause of a stream escalation meaning "too many customers report a quality problem".
QUALITY_REPORTS_CLAUSE: Final = "B2C-8.7.5"

_INPUTS: Final = (
    "topic",
    "channel",
    "order_amount",
    "customer_paid_total",
    "contact_count",
    "received_at",
    "received_date",
    "local_time",
    "days_since_delivered",
    "repeat_complaint",
    "quality_reports_exceeded",
)

TOPIC = fact("topic")
CHANNEL = fact("channel")
_received = fact("received_at")
_local_time = fact("local_time")
_opens = param("service_opens")
_closes = param("service_closes")
_in_service_hours = (_opens <= _local_time) & (_local_time < _closes)


def _wall(hours: str) -> Expr:
    return call("add_hours", _received, param(hours))


def _service(hours: str) -> Expr:
    return call("add_service_hours", _received, param(hours), _opens, _closes)


_WALL_EN = "every hour counts"
_WALL_ZH = "按自然小时计"
_SERVICE_EN = "only service hours {service_opens}-{service_closes} count"
_SERVICE_ZH = "仅计客服工作时间{service_opens}-{service_closes}"

_finance = TOPIC.isin(FINANCE_TOPICS)
_catalogue = TOPIC.isin(OPERATIONS_CATALOGUE_TOPICS)
_fault = TOPIC.isin(OPERATIONS_FAULT_TOPICS)
_technology = TOPIC.isin(TECHNOLOGY_TOPICS)
_finance_wall = param("finance_answer_clock") == "wall"
_finance_service = param("finance_answer_clock") == "service"
_operations_wall = param("operations_answer_clock") == "wall"
_operations_service = param("operations_answer_clock") == "service"
_technology_wall = param("technology_answer_clock") == "wall"
_technology_service = param("technology_answer_clock") == "service"

#: Which department answers the matter and by when (unique hit: the rows exclude
#: one another, and together cover every topic under either clock).
COMPLAINT_ROUTE: Final = Table(
    name="complaint_route",
    title="Complaint routing and department answer deadline",
    title_zh="投诉转交部门与部门答复时限",
    hit_policy=HitPolicy.UNIQUE,
    inputs=_INPUTS,
    outputs=("route_to", "answer_due"),
    rules=[
        # ---- Finance -----------------------------------------------------------
        Rule(
            "B2C-5",
            _finance & _finance_wall,
            {"route_to": Department.FINANCE, "answer_due": _wall("finance_answer_hours")},
            en=f"Finance matter ({{topic}}): transfer to Finance, which answers within "
            f"{{finance_answer_hours}} hours ({_WALL_EN}): by {{answer_due}}.",
            zh=f"财务类问题({{topic}}):转交财务部,{{finance_answer_hours}}小时内反馈"
            f"({_WALL_ZH}),即{{answer_due}}前。",
            id="finance_wall",
        ),
        Rule(
            "B2C-5",
            _finance & _finance_service,
            {"route_to": Department.FINANCE, "answer_due": _service("finance_answer_hours")},
            en=f"Finance matter ({{topic}}): transfer to Finance, which answers within "
            f"{{finance_answer_hours}} hours ({_SERVICE_EN}): by {{answer_due}}.",
            zh=f"财务类问题({{topic}}):转交财务部,{{finance_answer_hours}}小时内反馈"
            f"({_SERVICE_ZH}),即{{answer_due}}前。",
            id="finance_service",
        ),
        # ---- Operations: catalogue suggestions ------------------------------------
        Rule(
            "B2C-5",
            _catalogue & _operations_wall,
            {
                "route_to": Department.OPERATIONS,
                "answer_due": _wall("operations_catalogue_answer_hours"),
            },
            en=f"Catalogue suggestion: transfer to Operations, which answers within "
            f"{{operations_catalogue_answer_hours}} hours ({_WALL_EN}): by {{answer_due}}.",
            zh=f"产品名目完善建议:转交运营部,{{operations_catalogue_answer_hours}}小时内反馈"
            f"({_WALL_ZH}),即{{answer_due}}前。",
            id="operations_catalogue_wall",
        ),
        Rule(
            "B2C-5",
            _catalogue & _operations_service,
            {
                "route_to": Department.OPERATIONS,
                "answer_due": _service("operations_catalogue_answer_hours"),
            },
            en=f"Catalogue suggestion: transfer to Operations, which answers within "
            f"{{operations_catalogue_answer_hours}} hours ({_SERVICE_EN}): by {{answer_due}}.",
            zh=f"产品名目完善建议:转交运营部,{{operations_catalogue_answer_hours}}小时内反馈"
            f"({_SERVICE_ZH}),即{{answer_due}}前。",
            id="operations_catalogue_service",
        ),
        # ---- Operations: product and fulfilment faults -----------------------------
        Rule(
            "B2C-5",
            _fault & _operations_wall,
            {
                "route_to": Department.OPERATIONS,
                "answer_due": _wall("operations_defect_answer_hours"),
            },
            en=f"Product or shipment fault ({{topic}}): transfer to Operations, which answers "
            f"within {{operations_defect_answer_hours}} hours ({_WALL_EN}): by {{answer_due}}.",
            zh=f"产品或发货问题({{topic}}):转交运营部,{{operations_defect_answer_hours}}小时内"
            f"反馈({_WALL_ZH}),即{{answer_due}}前。",
            id="operations_fault_wall",
        ),
        Rule(
            "B2C-5",
            _fault & _operations_service,
            {
                "route_to": Department.OPERATIONS,
                "answer_due": _service("operations_defect_answer_hours"),
            },
            en=f"Product or shipment fault ({{topic}}): transfer to Operations, which answers "
            f"within {{operations_defect_answer_hours}} hours ({_SERVICE_EN}): by {{answer_due}}.",
            zh=f"产品或发货问题({{topic}}):转交运营部,{{operations_defect_answer_hours}}小时内"
            f"反馈({_SERVICE_ZH}),即{{answer_due}}前。",
            id="operations_fault_service",
        ),
        # ---- Technology --------------------------------------------------------------
        Rule(
            "B2C-5",
            _technology & _technology_wall,
            {
                "route_to": Department.TECHNOLOGY,
                "answer_due": _wall("technology_answer_hours"),
            },
            en=f"System failure the agent could not solve ({{topic}}): transfer to Technology, "
            f"which answers within {{technology_answer_hours}} hours ({_WALL_EN}): "
            f"by {{answer_due}}.",
            zh=f"系统故障,客服尝试后无法解决({{topic}}):转交技术部,{{technology_answer_hours}}"
            f"小时内反馈({_WALL_ZH}),即{{answer_due}}前。",
            id="technology_wall",
        ),
        Rule(
            "B2C-5",
            _technology & _technology_service,
            {
                "route_to": Department.TECHNOLOGY,
                "answer_due": _service("technology_answer_hours"),
            },
            en=f"System failure the agent could not solve ({{topic}}): transfer to Technology, "
            f"which answers within {{technology_answer_hours}} hours ({_SERVICE_EN}): "
            f"by {{answer_due}}.",
            zh=f"系统故障,客服尝试后无法解决({{topic}}):转交技术部,{{technology_answer_hours}}"
            f"小时内反馈({_SERVICE_ZH}),即{{answer_due}}前。",
            id="technology_service",
        ),
        # ---- Customer service handles it itself ---------------------------------
        Rule(
            "B2C-8.7.2",
            TOPIC == Topic.NOT_RECEIVED,
            {"route_to": Department.CUSTOMER_SERVICE, "answer_due": None},
            en="Goods not received: customer service checks the delivery with the courier "
            "itself; no other department is asked.",
            zh="客诉货未收到:由客服自行查询物流配送情况,不转交其他部门。",
            id="customer_service_not_received",
        ),
        Rule(
            "JD-5",
            TOPIC == Topic.SERVICE,
            {"route_to": Department.CUSTOMER_SERVICE, "answer_due": None},
            en="Complaint about the service: customer service registers and handles it "
            "(the service agent or supervisor).",
            zh="服务类投诉:由客服登记受理,交服务专员/主管处理。",
            id="customer_service_service",
        ),
        Rule(
            "B2C-7.15",
            TOPIC == Topic.REFUND_PROGRESS,
            {"route_to": Department.CUSTOMER_SERVICE, "answer_due": None},
            en="Refund progress enquiry: customer service follows it up and calls back itself.",
            zh="查询退款进度:由客服跟进并主动回访。",
            id="customer_service_refund_progress",
        ),
        Rule(
            "B2C-7.15",
            TOPIC == Topic.SHIPPING_STATUS,
            {"route_to": Department.CUSTOMER_SERVICE, "answer_due": None},
            en="Shipping-status enquiry: customer service finds out and calls back itself.",
            zh="咨询发货情况:由客服了解发货详情并主动回访。",
            id="customer_service_shipping_status",
        ),
    ],
)

_im_due = call("add_minutes", _received, param("im_away_reply_minutes"))
_period_end = call("service_period_end", _received, _opens, _closes)

#: By when the customer must get a reply (first hit).
COMPLAINT_REPLY: Final = Table(
    name="complaint_reply",
    title="Reply deadline to the customer",
    title_zh="答复顾客的时限",
    hit_policy=HitPolicy.FIRST,
    inputs=_INPUTS,
    outputs=("reply_due",),
    rules=[
        # an IM message in the period's last minutes is due when the period
        # ends: B2C-8.3 (the next rule) sets that deadline and is cited
        Rule(
            "B2C-8.10",
            _in_service_hours & (CHANNEL == Channel.IM) & (_im_due <= _period_end),
            {"reply_due": _im_due},
            en="Online chat in service hours: reply within {im_away_reply_minutes} minutes "
            "(even when the agent shows 'away'): by {reply_due}.",
            zh="服务时间内的在线客服消息:{im_away_reply_minutes}分钟内回复(客服显示离开时亦同),"
            "即{reply_due}前。",
            id="im_in_hours",
        ),
        Rule(
            "B2C-8.3",
            _in_service_hours,
            {"reply_due": _period_end},
            en="Received in service hours ({service_opens}-{service_closes}): handled and "
            "answered within the same service period, by {reply_due}.",
            zh="工作时间({service_opens}-{service_closes})内收到:须在当班工作时间内处理完毕并回复,"
            "即{reply_due}前。",
            id="same_period",
        ),
        Rule(
            "B2C-8.5",
            TRUE,
            {"reply_due": call("next_time_of_day", _received, param("next_day_reply_by"))},
            en="Received outside service hours ({service_opens}-{service_closes}): handled and "
            "answered by the next {next_day_reply_by}, {reply_due}.",
            zh="非工作时间({service_opens}-{service_closes})收到:须在随后的{next_day_reply_by}前"
            "处理完毕并回复,即{reply_due}前。",
            id="next_morning",
        ),
    ],
)

_cs_head_applies = (param("cs_head_walk_in_only") == False) | (  # noqa: E712
    CHANNEL == Channel.WALK_IN
)
_CS_HEAD_EN = "the agent tells the customer-service head at once, who takes the customer over"
_CS_HEAD_ZH = "接待客服应立即告知客服部负责人,转由客服部负责人接待"
_amount = fact("order_amount")
_days = fact("days_since_delivered")

#: Whom the complaint goes to beyond the department that answers it (collect).
COMPLAINT_ESCALATION: Final = Table(
    name="complaint_escalation",
    title="Escalation to the customer-service head and the general manager",
    title_zh="升级至客服主管与总经理",
    hit_policy=HitPolicy.COLLECT,
    inputs=_INPUTS,
    outputs=("escalate_to",),
    rules=[
        Rule(
            "B2C-7.16.3",
            _cs_head_applies
            & (fact("customer_paid_total") > param("cs_head_paid_total_threshold")),
            {"escalate_to": Escalation.CS_HEAD},
            en=f"The customer's historical paid total, {{customer_paid_total}} yuan, is over "
            f"{{cs_head_paid_total_threshold}} yuan: {_CS_HEAD_EN}.",
            zh=f"该客户历史付款总额{{customer_paid_total}}元,超过{{cs_head_paid_total_threshold}}元:"
            f"{_CS_HEAD_ZH}。",
            id="cs_head_paid_total",
        ),
        Rule(
            "B2C-7.16.3",
            _cs_head_applies & (fact("contact_count") >= param("cs_head_contact_count")),
            {"escalate_to": Escalation.CS_HEAD},
            en=f"The customer has now asked {{contact_count}} times to have the problem solved "
            f"({{cs_head_contact_count}} or more): {_CS_HEAD_EN}.",
            zh=f"该客户已{{contact_count}}次来电或以其他方式要求解决问题"
            f"({{cs_head_contact_count}}次以上):{_CS_HEAD_ZH}。",
            id="cs_head_contacts",
        ),
        Rule(
            "B2C-7.16.3",
            _cs_head_applies
            & _amount.is_not_none()
            & (_amount > param("cs_head_order_amount_threshold")),
            {"escalate_to": Escalation.CS_HEAD},
            en=f"The order concerned, {{order_amount}} yuan, is over "
            f"{{cs_head_order_amount_threshold}} yuan: {_CS_HEAD_EN}.",
            zh=f"客户要求处理的订单金额{{order_amount}}元,超过{{cs_head_order_amount_threshold}}元:"
            f"{_CS_HEAD_ZH}。",
            id="cs_head_order_amount",
        ),
        Rule(
            "B2C-8.7.1",
            fact("repeat_complaint"),
            {"escalate_to": Escalation.GENERAL_MANAGER},
            en="The same customer has complained twice about the same department or staff "
            "member: tell the department concerned or the general manager at once.",
            zh="同一客户两次投诉同一部门或工作人员:第一时间告知相关部门或总经理。",
            id="general_manager_repeat_complaint",
        ),
        Rule(
            "B2C-8.7.2",
            (TOPIC == Topic.NOT_RECEIVED)
            & _days.is_not_none()
            & (_days > param("not_received_days")),
            {"escalate_to": Escalation.GENERAL_MANAGER},
            en="Goods reported not received although they were delivered "
            "{days_since_delivered} days ago (more than {not_received_days}): tell the "
            "department concerned or the general manager at once.",
            zh="客诉货未收到,但货品已于{days_since_delivered}天前送出(超过{not_received_days}天):"
            "第一时间告知相关部门或总经理。",
            id="general_manager_not_received",
        ),
        Rule(
            "B2C-8.7.3",
            TOPIC == Topic.WEBSITE_BUG,
            {"escalate_to": Escalation.GENERAL_MANAGER},
            en="A bug in the website: tell the department concerned or the general manager "
            "at once.",
            zh="客诉网站有程序漏洞:第一时间告知相关部门或总经理。",
            id="general_manager_website_bug",
        ),
        Rule(
            "B2C-8.7.4",
            TOPIC == Topic.EXTRA_OR_WRONG_ITEMS,
            {"escalate_to": Escalation.GENERAL_MANAGER},
            en="The customer received extra goods or goods not in the order: tell the "
            "department concerned or the general manager at once.",
            zh="客诉多收到物品或收到非单内物品:第一时间告知相关部门或总经理。",
            id="general_manager_extra_or_wrong_items",
        ),
        Rule(
            "B2C-8.7.5",
            fact("quality_reports_exceeded"),
            {"escalate_to": Escalation.GENERAL_MANAGER},
            en="More than {quality_reporters_threshold} different customers have reported a "
            "quality problem with this product: tell the department concerned or the general "
            "manager at once.",
            zh="超过{quality_reporters_threshold}位不同的客户反映该产品质量问题:"
            "第一时间告知相关部门或总经理。",
            id="general_manager_quality_reports",
        ),
    ],
)

_contacts = fact("contact_count")
_repeat = param("repeat_caller_contact_count")
_frequent = param("frequent_caller_contact_count")

#: What else the agent must do (collect: every matching rule fires).
COMPLAINT_DUTIES: Final = Table(
    name="complaint_duties",
    title="What the agent must also do",
    title_zh="客服还须做的事",
    hit_policy=HitPolicy.COLLECT,
    inputs=(*_INPUTS, "route_to", "to_general_manager"),
    outputs=("duty",),
    rules=[
        Rule(
            "B2C-7.15",
            TOPIC == Topic.SHIPPING_STATUS,
            {"duty": "email_shipping_status"},
            en="E-mail the customer within {shipping_status_email_hours} hours of learning the "
            "shipping details; without an e-mail address send an SMS, without a mobile "
            "number phone them.",
            zh="了解发货详情后{shipping_status_email_hours}小时内以电子邮件回复客户;"
            "无电子邮件则发送手机短信;未留手机号码则直接致电。",
            id="email_shipping_status",
        ),
        Rule(
            "B2C-7.15",
            TOPIC == Topic.REFUND_PROGRESS,
            {"duty": "sms_refund_progress"},
            en="Send the customer an SMS {refund_progress_sms_min_hours}-"
            "{refund_progress_sms_max_hours} hours after learning the refund's progress; "
            "without a mobile number phone them.",
            zh="了解退款进度后{refund_progress_sms_min_hours}~{refund_progress_sms_max_hours}小时内"
            "发送手机短信给客户;未留手机号码则直接致电。",
            id="sms_refund_progress",
        ),
        Rule(
            "JD-2.3",
            _contacts < _repeat,
            {"duty": "record_and_agree_callback_time"},
            en="First contact: be warm and expert, record the problem, and agree a time to "
            "call back for anything not solved now.",
            zh="首次来电:态度热情且不失专家口吻,做好记录;当下不能解决的约好回复时间并准时回复。",
            id="first_contact",
        ),
        Rule(
            "JD-2.3",
            (_contacts >= _repeat) & (_contacts < _frequent),
            {"duty": "greet_by_name_review_history"},
            en="Contact number {contact_count}: greet the customer by name and review the "
            "history of the problem before handling it.",
            zh="第{contact_count}次来电:先称呼客户姓名,并详细查询客户的问题记录后再处理。",
            id="repeat_contact",
        ),
        Rule(
            "JD-2.3",
            _contacts >= _frequent,
            {"duty": "review_full_history_before_callback"},
            en="Contact number {contact_count}: review the customer's full contact history "
            "(old or new problem) and find a solution before calling back.",
            zh="第{contact_count}次来电:先详细查询客户的全部来电记录,判断新老问题,想好解决办法后再回电。",
            id="frequent_contact",
        ),
        Rule(
            "JD-5",
            TOPIC.isin(QUALITY_TOPICS),
            {"duty": "quality_problem_to_person_responsible"},
            en="Quality problem ({topic}): hand it to the person responsible for it.",
            zh="质量问题({topic}):交相关负责人处理。",
            id="quality_to_responsible",
        ),
        Rule(
            "JD-5",
            TOPIC == Topic.SERVICE,
            {"duty": "service_problem_to_agent_or_supervisor"},
            en="Service problem: the service agent or the supervisor handles it.",
            zh="服务问题:由服务专员/主管处理。",
            id="service_to_supervisor",
        ),
        Rule(
            "JD-5",
            TRUE,
            {"duty": "callback_within_days"},
            en="Call the customer back within {callback_days} days of handling the complaint.",
            zh="投诉处理后{callback_days}天内回访客户。",
            id="callback",
        ),
        Rule(
            "B2C-8.7",
            TRUE,
            {"duty": "log_complaint"},
            en="Enter the complaint in the daily complaint log, due to the department head by "
            "{complaint_log_due}; anything not entered today goes in tomorrow's log.",
            zh="将该客诉记入《客诉日志表》,每日{complaint_log_due}前提交部门负责人;"
            "当日未处理或未补录的记入次日日志。",
            id="complaint_log",
        ),
        Rule(
            "B2C-8.7",
            fact("to_general_manager"),
            {"duty": "send_log_to_general_manager"},
            en="Escalated complaint: besides telling them at once, send the day's complaint "
            "log to the department concerned or the general manager as well.",
            zh="需上报的客诉:除第一时间告知外,还须将当日《客诉日志表》同时发送给相关部门或总经理。",
            id="log_to_general_manager",
        ),
    ],
)

#: The tables of the rule set, in evaluation order.
COMPLAINT_TABLES: Final = (
    COMPLAINT_ROUTE,
    COMPLAINT_REPLY,
    COMPLAINT_ESCALATION,
    COMPLAINT_DUTIES,
)


def _in(
    name: str, source: str, type_: Any, en: str, zh: str, *, nullable: bool = False
) -> FactSpec:
    return FactSpec(name, type_, source=source, en=en, zh=zh, nullable=nullable)


def _derived(name: str, type_: Any, derive: Expr, en: str, zh: str) -> FactSpec:
    return FactSpec(name, type_, derive=derive, en=en, zh=zh)


#: The facts of a complaint: read from it, derived, or given by the
#: escalation monitor (``repeat_complaint``, ``quality_reports_exceeded``).
COMPLAINT_FACTS: Final = (
    _in("topic", "complaint.topic", Topic, "what the complaint is about", "投诉主题"),
    _in("channel", "complaint.channel", Channel, "how it came in", "渠道"),
    _in("order_amount", "complaint.order_amount", decimal.Decimal,
        "the order's amount", "订单金额", nullable=True),
    _in("customer_paid_total", "complaint.customer_paid_total", decimal.Decimal,
        "what the customer has paid in all", "客户累计付款"),
    _in("contact_count", "complaint.contact_count", int,
        "how often the customer called", "联系次数"),
    _in("received", "complaint.received_at", dt.datetime, "when it came in", "收到时间"),
    _in("delivered_at", "complaint.delivered_at", dt.datetime, "when the goods came", "送达时间",
        nullable=True),
    FactSpec("repeat_complaint", bool, default=False,
             en="the customer complained before (B2C-8.7.1, from the stream)", zh="重复投诉"),
    FactSpec("quality_reports_exceeded", bool, default=False,
             en="too many customers report the product (B2C-8.7.5, from the stream)",
             zh="质量反映超过阈值"),
    _derived("received_at", dt.datetime, call("in_shanghai", fact("received")),
             "when it came in, Asia/Shanghai time", "收到时间(北京时间)"),
    _derived("received_date", dt.date, call("local_date", fact("received_at")),
             "the date it came in", "收到日期"),
    _derived("local_time", dt.time, call("time_of_day", fact("received_at")),
             "the local time it came in", "收到时刻"),
    _derived(
        "days_since_delivered", int,
        call("days_between", call("local_date", fact("delivered_at")), fact("received_date")),
        "whole days from delivery to the complaint", "送达后天数",
    ),
    _derived("to_general_manager", bool,
             call("any_in", fact("escalate_to"), frozenset({Escalation.GENERAL_MANAGER})),
             "escalated to the general manager", "上报总经理"),
)  # fmt: skip


def _complaint_decision(
    case_id: str,
    results: Mapping[str, TableResult],
    facts: Mapping[str, Any],
    resolved: ParameterSet,
    params: Mapping[str, Any],
    policy: Policy,
) -> ComplaintDecision:
    route = results["complaint_route"]
    raised = frozenset(results["complaint_escalation"].outputs["escalate_to"])
    return ComplaintDecision(
        case_id=case_id,
        route_to=route.outputs["route_to"],
        answer_due=route.outputs["answer_due"],
        reply_due=results["complaint_reply"].outputs["reply_due"],
        escalate_to=tuple(e for e in Escalation if e in raised),
        duties=results["complaint_duties"].outputs["duty"],
        trace=make_trace(tuple(results.values()), resolved, policy),
    )


def _check_dates(complaint: Complaint) -> None:
    check_not_before(
        "complaint.received_at",
        complaint.received_at,
        (("complaint.delivered_at", complaint.delivered_at),),
    )


#: The complaint kind of the bundled rule sets.
COMPLAINT_KIND: Final = KindSpec(
    name="complaint",
    facts=COMPLAINT_FACTS,
    tables=COMPLAINT_TABLES,
    decision=_complaint_decision,
    date_fact="received_date",
    roots=("complaint",),
    check=_check_dates,
    stream_facts=("repeat_complaint", "quality_reports_exceeded"),
)


def complaint_facts(complaint: Complaint) -> dict[str, Any]:
    """The fact record of a complaint (the facts :data:`COMPLAINT_FACTS`
    declares that its tables read before any outcome).

    Times are in Asia/Shanghai. ``days_since_delivered`` counts whole
    calendar days from the local date of delivery to the local date the
    complaint was received (``None`` without a delivery time). The stream
    facts ``repeat_complaint`` and ``quality_reports_exceeded`` are ``False``
    here; :func:`decide_complaint` sets them from the escalation monitor.

    Args:
        complaint: the complaint.
    """
    from csrules.policy import default_policy

    facts: dict[str, Any] = COMPLAINT_KIND.compiled().build(complaint, {}, default_policy())[0]
    return facts


def check_complaint(complaint: object) -> None:
    """Check the ``complaint`` argument of :func:`decide_complaint`.

    Raises:
        ArgumentTypeError: ``complaint`` is not a :class:`~csrules.Complaint`.
        DomainValueError: it was received before the goods were delivered.
    """
    if not isinstance(complaint, Complaint):
        raise ArgumentTypeError("complaint", complaint, "a Complaint")
    check_not_before(
        "complaint.received_at",
        complaint.received_at,
        (("complaint.delivered_at", complaint.delivered_at),),
    )


def _stream_clauses(stream: Iterable[object]) -> frozenset[str]:
    return frozenset(str(getattr(item, "clause", "")) for item in stream)


def decide_complaint(
    complaint: Complaint,
    *,
    policy: Policy | None = None,
    stream: Iterable[object] = (),
    case_id: str | None = None,
    tables: tuple[Table, Table, Table, Table] | None = None,
    ruleset: RuleSet | str | None = None,
    facts: Mapping[str, Any] | None = None,
) -> ComplaintDecision:
    """Decide a complaint: route, answer and reply deadlines, escalations, duties.

    Args:
        complaint: the complaint.
        policy: the shop's policy; the bundled B2C policy by default. The
            parameter values in force on the complaint's Asia/Shanghai date
            apply.
        stream: the escalations the escalation monitor reported for this
            complaint; each has a ``clause`` attribute. ``"B2C-8.7.1"`` sets
            the fact ``repeat_complaint``, ``"B2C-8.7.5"`` the fact
            ``quality_reports_exceeded``; other clauses are ignored.
        case_id: echoed in the decision; the complaint's id by default.
        tables: the route, reply, escalation and duties tables to use, to
            swap in a shop's own rules (a rule set is the better way).
        ruleset: the rule set (a :class:`~csrules.RuleSet` or a name for
            :func:`csrules.ruleset`); the bundled ``b2c`` by default.
        facts: values of extra facts the rule set declares.

    Returns:
        The decision; its times are in Asia/Shanghai and ``escalate_to``
        lists each escalation once, ``cs_head`` before ``general_manager``.

    Raises:
        ArgumentTypeError: an argument is not of the type above.
        DomainValueError: the complaint was received before its goods were
            delivered (``received_at`` precedes ``delivered_at``).
        PolicyError: a parameter the rules need has no value on the
            complaint's date.
        NoRuleMatchedError: the route table matched nothing (e.g. a clock
            parameter with an unknown value in a custom policy).
        RuleOverlapError: the route table matched more than one rule.

    .. versionadded:: 0.1.0
    """
    check_complaint(complaint)
    if not isinstance(stream, Iterable):
        raise ArgumentTypeError("stream", stream, "an iterable of escalations")
    if case_id is not None:
        check_instance("case_id", case_id, str, "a str or None")
    kind, policy = kind_and_policy("complaint", COMPLAINT_KIND, policy, ruleset, tables, 4)
    clauses = _stream_clauses(stream)
    extra: dict[str, Any] = dict(facts or {})
    extra["repeat_complaint"] = REPEAT_COMPLAINT_CLAUSE in clauses
    extra["quality_reports_exceeded"] = QUALITY_REPORTS_CLAUSE in clauses
    return kind.compiled().decide(  # type: ignore[return-value]
        (complaint,), extra, policy, complaint.id if case_id is None else case_id
    )


# ----------------------------------------------------------- stream rules (B2C-8.7)

#: The escalation monitor's correlation rules (B2C-8.7.1 and B2C-8.7.5), in the order
#: their escalations are listed.
STREAM_RULES: Final[tuple[StreamRule, ...]] = (
    StreamRule(
        id="same_department",
        clause=REPEAT_COMPLAINT_CLAUSE,
        considers=TRUE,
        key=("customer_id", "about_department"),
        count=StreamCount.COMPLAINTS,
        threshold=2,
        window="repeat_complaint_window_days",
        escalate_to=Escalation.GENERAL_MANAGER,
        text_en=(
            "{clause}: customer {customer_id} has complained about the {subject} department "
            "{count} times within {days} days (earlier: {earlier}); "
            "report to the general manager at once."
        ),
        text_zh=(
            "{clause}：顾客 {customer_id} 在 {days} 天内第 {count} 次投诉{subject_zh}"
            "（之前的投诉：{earlier}），立即上报总经理。"
        ),
    ),
    StreamRule(
        id="same_staff",
        clause=REPEAT_COMPLAINT_CLAUSE,
        considers=TRUE,
        key=("customer_id", "about_staff"),
        count=StreamCount.COMPLAINTS,
        threshold=2,
        window="repeat_complaint_window_days",
        escalate_to=Escalation.GENERAL_MANAGER,
        text_en=(
            "{clause}: customer {customer_id} has complained about staff member {subject} "
            "{count} times within {days} days (earlier: {earlier}); "
            "report to the general manager at once."
        ),
        text_zh=(
            "{clause}：顾客 {customer_id} 在 {days} 天内第 {count} 次投诉员工 {subject}"
            "（之前的投诉：{earlier}），立即上报总经理。"
        ),
    ),
    StreamRule(
        id="quality_reports",
        clause=QUALITY_REPORTS_CLAUSE,
        considers=fact("topic").isin(QUALITY_TOPICS),
        key=("sku",),
        count=StreamCount.CUSTOMERS,
        threshold="quality_reporters_threshold",
        more_than=True,
        window="quality_window_days",
        escalate_to=Escalation.GENERAL_MANAGER,
        text_en=(
            "{clause}: {count} different customers have reported a quality problem "
            "with product {subject} within {days} days (earlier reports: {earlier}); "
            "report to the general manager at once."
        ),
        text_zh=(
            "{clause}：{days} 天内已有 {count} 位不同顾客反映商品 {subject} "
            "的质量问题（之前的反映：{earlier}），立即上报总经理。"
        ),
    ),
)


mark_bundled(globals(), __name__)
