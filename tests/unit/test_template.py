"""Infrastructure assertions on the translated SAM template: security defaults and wiring that tests
elsewhere rely on (the local stack is built from the same template)."""

from __future__ import annotations

import fnmatch
import json
import re

import pytest

from ecluse.access import OPEN_ROUTES
from local.infra import ROOT, translated


@pytest.fixture(scope="module")
def template():
    return translated()


def _of_type(template, kind):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_tables_are_encrypted_recoverable_and_on_demand(template):
    tables = _of_type(template, "AWS::DynamoDB::Table")
    assert set(tables) == {"DeclarationsTable", "SystemsTable"}
    for table in tables.values():
        properties = table["Properties"]
        assert properties["SSESpecification"]["SSEEnabled"] is True
        assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert table["DeletionPolicy"] == "Retain"


def test_release_index_lists_per_system_and_state_in_receipt_order(template):
    indexes = {
        i["IndexName"]: i for i in template["Resources"]["DeclarationsTable"]["Properties"]["GlobalSecondaryIndexes"]
    }
    keys = [k["AttributeName"] for k in indexes["by_system_state"]["KeySchema"]]
    assert keys == ["system_state", "order_key"]
    assert "body" not in indexes["by_system_state"]["Projection"]["NonKeyAttributes"]


def test_submit_queue_is_fifo_encrypted_with_a_dead_letter_queue(template):
    queue = template["Resources"]["SubmitQueue"]["Properties"]
    assert queue["FifoQueue"] is True
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["SubmitDeadLetterQueue", "Arn"]}
    # the ledger's budget decides FAILED; SQS's receive count is a backstop above the largest budget
    budget = template["Parameters"]["MaxSendingAttempts"]["MaxValue"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 2 * budget
    assert queue["VisibilityTimeout"] >= 6 * template["Resources"]["SubmitFunction"]["Properties"]["Timeout"]


def test_a_submit_invocation_has_time_for_the_slowest_declaration(template):
    from ecluse.config.submit import SubmitSettings

    function = template["Resources"]["SubmitFunction"]["Properties"]
    literal = {k: v for k, v in function["Environment"]["Variables"].items() if isinstance(v, str)}
    settings = SubmitSettings.model_validate(
        {**literal, "DECLARATIONS_TABLE": "d", "SYSTEMS_TABLE": "s", "SUBMIT_QUEUE_URL": "q",
         "SUBMIT_DEAD_LETTER_QUEUE_URL": "dlq", "CUSTOMS_GATEWAY_URL": "https://c"}
    )  # fmt: skip
    # at least two of a batch go through even when customs answers at its timeout every time
    assert 2 * settings.milliseconds_per_declaration <= function["Timeout"] * 1000


def test_every_queue_and_stream_consumer_reports_partial_batch_failures(template):
    mappings = _of_type(template, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 3  # the submit queue, the two change streams
    for mapping in mappings.values():
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_change_streams_are_retried_until_told_and_read_from_their_start(template):
    streams = [m["Properties"] for m in _of_type(template, "AWS::Lambda::EventSourceMapping").values()
               if "StartingPosition" in m["Properties"]]  # fmt: skip
    assert len(streams) == 2
    for mapping in streams:
        assert mapping["StartingPosition"] == "TRIM_HORIZON"
        assert mapping["MaximumRetryAttempts"] == -1  # a change is told, never dropped
        assert "BisectBatchOnFunctionError" not in mapping  # bisecting would reorder a declaration's events


def test_every_route_the_function_serves_is_a_method_of_the_api(template):
    # who may call each method, in both auth modes: tests/unit/test_auth_modes.py
    [api] = _of_type(template, "AWS::ApiGateway::RestApi").values()
    paths = api["Properties"]["Body"]["paths"]
    methods = [(p, m, op) for p, ops in paths.items() for m, op in ops.items()]
    # every route the API function serves (its OpenAPI document) is a method of the API, and nothing else
    # and the console's static files (ecluse.access.OPEN_ROUTES), which are the only open ones
    served = json.loads((ROOT / "docs" / "openapi.json").read_text())["paths"]
    open_routes = {(re.sub(r"{\w+}", "{}", p), m.lower()) for m, p in OPEN_ROUTES}
    assert {(re.sub(r"{\w+}", "{}", p), m) for p, m, _ in methods} == {
        (re.sub(r"{\w+}", "{}", p), m) for p, ops in served.items() for m in ops
    } | open_routes


def test_function_policies_name_their_resources(template):
    for name, role in _of_type(template, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            text = json.dumps(policy["PolicyDocument"])
            statements = policy["PolicyDocument"]["Statement"]
            for statement in statements if isinstance(statements, list) else [statements]:
                if "Fn::If" in statement:
                    statement = statement["Fn::If"][1]
                assert statement.get("Resource") not in ("*", ["*"]), f"{name}: {text}"
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert not any(a.endswith(":*") or a == "*" for a in actions), f"{name}: {text}"


def test_every_function_has_a_log_group_with_retention(template):
    groups = _of_type(template, "AWS::Logs::LogGroup")
    for function in _of_type(template, "AWS::Lambda::Function"):
        [group] = [g for g in groups.values() if function in json.dumps(g["Properties"].get("LogGroupName", ""))]
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_release_run_ends_before_its_timeout(template):
    function = template["Resources"]["ReleaseFunction"]["Properties"]
    assert float(function["Environment"]["Variables"]["RELEASE_RUN_SECONDS"]) + 10 <= function["Timeout"]


def test_release_run_default_is_the_deployed_one(template):
    """Decision 7: a run lasts 55 s of its 75 s timeout; a function started without the variable agrees."""
    from ecluse.config.release import ReleaseSettings

    deployed = template["Resources"]["ReleaseFunction"]["Properties"]["Environment"]["Variables"]
    assert ReleaseSettings.model_fields["release_run_seconds"].default == float(deployed["RELEASE_RUN_SECONDS"])


def test_every_setting_a_function_reads_is_provided_by_the_template(aws):
    from ecluse.config.api import ApiSettings
    from ecluse.config.release import ReleaseSettings
    from ecluse.config.submit import SubmitSettings

    ApiSettings.model_validate(aws.env("api"))
    ReleaseSettings.model_validate(aws.env("release"))
    SubmitSettings.model_validate(aws.env("submit"))


def test_listing_indexes_project_what_the_ledger_reads_from_them(template):
    from ecluse.aws.ledger_items import LISTED

    for index in template["Resources"]["DeclarationsTable"]["Properties"]["GlobalSecondaryIndexes"]:
        assert set(index["Projection"]["NonKeyAttributes"]) == set(LISTED), index["IndexName"]


def test_only_the_api_carries_the_pdf_layer(template):
    for name, function in _of_type(template, "AWS::Lambda::Function").items():
        layers = json.dumps(function["Properties"].get("Layers", []))
        assert ("PdfLayer" in layers) is (name == "ApiFunction"), name
        assert "EcluseLayer" in layers


def _statements(policy):
    statements = policy["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _allows(statement, action):
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    return any(fnmatch.fnmatchcase(action, pattern) for pattern in actions)


def test_every_alarm_topic_can_be_published_to_by_cloudwatch(template):
    """An alarm action on an encrypted topic only notifies if the topic's key lets CloudWatch use it; the
    AWS-managed alias/aws/sns key never does (its policy cannot name cloudwatch.amazonaws.com)."""
    resources = template["Resources"]
    alarms = _of_type(template, "AWS::CloudWatch::Alarm")
    assert alarms
    for name, alarm in alarms.items():
        for action in alarm["Properties"]["AlarmActions"]:
            topic = resources[action["Ref"]]
            key = topic["Properties"].get("KmsMasterKeyId")
            if key is None:
                continue  # unencrypted topics take alarms (but test_topics_are_encrypted refuses them)
            assert isinstance(key, dict), f"{name}: topic key {key!r} is not this stack's key"
            [key_id] = key.values() if "Ref" in key else [key["Fn::GetAtt"][0]]
            policy = resources[key_id]["Properties"]["KeyPolicy"]
            cloudwatch = [
                s
                for s in _statements(policy)
                if s["Effect"] == "Allow" and "cloudwatch.amazonaws.com" in json.dumps(s["Principal"])
            ]
            for needed in ("kms:Decrypt", "kms:GenerateDataKey"):
                assert any(_allows(s, needed) for s in cloudwatch), f"{name}: CloudWatch lacks {needed} on {key_id}"


def test_topics_are_encrypted(template):
    for name, topic in _of_type(template, "AWS::SNS::Topic").items():
        assert topic["Properties"].get("KmsMasterKeyId"), name


def test_the_api_keeps_its_answers_out_of_xray(template):
    # its answers carry declarants' names and addresses; Powertools' Tracer records responses by default
    variables = template["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert variables.get("POWERTOOLS_TRACER_CAPTURE_RESPONSE") == "false"


def test_no_function_may_use_every_queue_of_the_account(template):
    for name, role in _of_type(template, "AWS::IAM::Role").items():
        managed = json.dumps(role["Properties"].get("ManagedPolicyArns", []))
        assert "AWSLambdaSQSQueueExecutionRole" not in managed, name  # sqs:* actions on Resource "*"
    # what the submit queue's event source mapping needs is granted on that queue
    role = template["Resources"]["SubmitFunction"]["Properties"]["Role"]["Fn::GetAtt"][0]
    [policy] = template["Resources"][role]["Properties"]["Policies"]
    granted = {
        action
        for statement in _statements(policy["PolicyDocument"])
        if statement.get("Resource") == {"Fn::GetAtt": ["SubmitQueue", "Arn"]}
        for action in statement["Action"]
    }
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"} <= granted


def test_the_token_parameter_is_a_full_parameter_name_or_nothing(template):
    import re

    pattern = re.compile(template["Parameters"]["CustomsGatewayTokenParameter"]["AllowedPattern"])
    for good in ("", "/ecluse/customs-gateway-token", "/a.b_c-d"):
        assert pattern.fullmatch(good), good
    for bad in ("ecluse-token", "arn:aws:ssm:eu-west-3:1:parameter/x", "/with space"):
        assert not pattern.fullmatch(bad), bad


def test_the_api_cannot_take_the_concurrency_the_submit_and_release_functions_need(template):
    api = template["Resources"]["ApiFunction"]["Properties"]
    assert api["ReservedConcurrentExecutions"] == {"Ref": "ApiReservedConcurrency"}
    assert template["Parameters"]["ApiReservedConcurrency"]["MaxValue"] <= 1000


def test_the_dashboard_is_valid_json_once_deployed(template):
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    deployed = re.sub(r"\$\{[^}]+\}", "x", body)
    widgets = json.loads(deployed)["widgets"]
    drawn = {w["properties"]["title"] for w in widgets}
    assert "Held, per customs system" in drawn
    alarms = {k for k, v in template["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    shown = {a.split(".")[0] for a in re.findall(r"\$\{(\w+)\.Arn\}", body)}
    assert shown == alarms  # every alarm on the dashboard


def test_every_alarm_the_operator_tunes_takes_its_threshold_from_a_parameter(template):
    resources = template["Resources"]
    tuned = {
        "SystemHeldTooLongAlarm": "HeldTooLongMinutes",
        "SubmittedWithoutAnswerAlarm": "SubmittedWithoutAnswerMinutes",
        "SendingErrorRateAlarm": "SendingErrorsPerFiveMinutes",
        "FeedFailingAlarm": "FeedFailedPollsAlarm",
    }
    for alarm, parameter in tuned.items():
        assert resources[alarm]["Properties"]["Threshold"] == {"Ref": parameter}
    for alarm in (k for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm"):
        assert resources[alarm]["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], alarm


def _refused_by_rules(parameters: dict[str, str]) -> list[str]:
    """What CloudFormation's template Rules refuse a deployment with these parameter values for (their
    AssertDescription), evaluated as CloudFormation does."""
    from samtranslator.yaml_helper import yaml_parse

    from local.infra import evaluate, parameter_values

    raw = yaml_parse((ROOT / "template.yaml").read_text())
    values = parameter_values(raw, parameters)
    return [
        assertion["AssertDescription"]
        for rule in raw["Rules"].values()
        if evaluate(rule.get("RuleCondition", True), values, {})
        for assertion in rule["Assertions"]
        if not evaluate(assertion["Assert"], values, {})
    ]


def test_a_webhook_is_refused_unless_it_names_whose_declarations_it_is_told_of():
    webhook = {"ErpWebhookUrl": "https://erp.example/ecluse", "ErpWebhookSecretName": "erp-webhook"}
    [refusal] = _refused_by_rules(webhook)
    assert "ErpWebhookDeclarant" in refusal
    assert _refused_by_rules({**webhook, "ErpWebhookDeclarant": "erp-a"}) == []
    assert _refused_by_rules({**webhook, "ErpWebhookDeclarant": "*"}) == []
    assert _refused_by_rules({}) == []  # no webhook, nothing to name


def test_a_webhook_for_one_erp_is_told_of_the_kinds_every_erp_is_told_of_and_of_its_own_declarations():
    """By name: a kind of event added later reaches no webhook until listed (it might carry an ERP's data)."""
    from ecluse.events import EVERYONES
    from local.infra import event_pattern

    pattern = event_pattern("WebhookRule", {"ErpWebhookUrl": "https://erp.example/e", "ErpWebhookDeclarant": "erp-a"})
    assert pattern == {
        "source": ["ecluse"],
        "$or": [{"detail-type": list(EVERYONES)}, {"detail": {"declarant": ["erp-a"]}}],
    }
    assert event_pattern("WebhookRule", {"ErpWebhookDeclarant": "*"}) == {"source": ["ecluse"]}


@pytest.mark.parametrize(
    ("declarant", "allowed"),
    [
        ("*", True),
        ("7f3kq2erpclient", True),
        ("arn:aws:iam::123456789012:role/erp-acme", True),
        ("arn:aws:iam::123456789012:user/sap.pi@acme", True),
        ("arn:aws:iam::123456789012:role/erp/erp-acme", False),  # events name the role without its path
        ("arn:aws:sts::123456789012:assumed-role/erp-acme/sap", False),  # a session: its role is the declarant
        ("erp-a,erp-b", False),  # one ERP a webhook
    ],
)
def test_the_webhooks_declarant_is_written_as_events_name_it(declarant, allowed):
    from samtranslator.yaml_helper import yaml_parse

    parameter = yaml_parse((ROOT / "template.yaml").read_text())["Parameters"]["ErpWebhookDeclarant"]
    assert bool(re.fullmatch(parameter["AllowedPattern"], declarant)) is allowed
