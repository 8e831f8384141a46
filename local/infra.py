"""The stack's stateful resources, created in an embedded AWS (moto) from template.yaml itself.

Tests and `make run` both go through here, so neither can drift from the template: the SAM template is
translated with the SAM translator, its tables, queues, topics, buses and keys are created with CloudFormation
in moto, and each function's environment is resolved from the translated template.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
STATEFUL = ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::Events::EventBus", "AWS::KMS::Key")
FUNCTIONS = {
    "api": "ApiFunction",
    "submit": "SubmitFunction",
    "release": "ReleaseFunction",
    "monitor": "MonitorFunction",
    "publish": "PublishFunction",
}


class _NoManagedPolicies:
    """The SAM translator's managed-policy lookup without IAM: no policy name resolves to an ARN here."""

    def load(self) -> dict[str, str]:
        return {}


def translated(region: str = "eu-west-3", parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """The template as CloudFormation deploys it with these parameter values (the defaults otherwise): the
    AWS::LanguageExtensions transform's choice of Fn::If branches first, then the SAM transform."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(TEMPLATE.read_text())
    for resource in template["Resources"].values():  # the translator wants S3 code locations
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            properties["CodeUri"] = "s3://local-placeholder/code.zip"
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            properties["ContentUri"] = "s3://local-placeholder/layer.zip"
    template = choose_branches(template, parameters or {})
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region
    try:
        # the translator only calls load() on it; its own loader needs an IAM client
        return transform(template, dict(parameters or {}), cast("ManagedPolicyLoader", _NoManagedPolicies()))
    finally:
        if previous is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous


# Conditions the AWS::LanguageExtensions transform must settle before the SAM transform (decision 15)
DECIDED_BEFORE_SAM = frozenset({"AuthMode"})


def parameter_values(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, str]:
    """Each parameter's value as a deployment with these would have it: the one given, or its default."""
    return {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()} | parameters


def evaluate(node: Any, values: dict[str, str], conditions: dict[str, Any]) -> Any:
    """A condition as CloudFormation evaluates it (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition, and Ref
    to a parameter), for the template's Conditions and its Rules; any other node is a value as it stands."""
    if not (isinstance(node, dict) and len(node) == 1):
        return node
    [(key, args)] = node.items()
    logic: dict[str, Callable[[], Any]] = {
        "Fn::Equals": lambda: evaluate(args[0], values, conditions) == evaluate(args[1], values, conditions),
        "Fn::Not": lambda: not evaluate(args[0], values, conditions),
        "Fn::And": lambda: all(evaluate(a, values, conditions) for a in args),
        "Fn::Or": lambda: any(evaluate(a, values, conditions) for a in args),
        "Condition": lambda: evaluate(conditions[args], values, conditions),
        "Ref": lambda: values[args],
    }
    return logic[key]() if key in logic else node


def choose_branches(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """What AWS::LanguageExtensions does before the SAM transform that this template relies on: each Fn::If
    whose condition reads only the auth mode (or parameters given here) becomes the branch it picks, a branch
    of AWS::NoValue removes the property. The transform settles the other Fn::If too, CloudFormation would
    otherwise: left as they are, the checks of the functions' policies see every branch. (SAM CLI's own
    implementation of the transform is not used: it turns a `!Sub` naming a resource attribute into a plain
    string.)"""
    values = parameter_values(template, parameters)
    decided = DECIDED_BEFORE_SAM | set(parameters)
    definitions = template.get("Conditions", {})

    def reads(node: Any) -> set[str]:
        if isinstance(node, dict):
            if set(node) == {"Condition"}:
                return reads(definitions[node["Condition"]])
            return {node["Ref"]} if set(node) == {"Ref"} else {p for v in node.values() for p in reads(v)}
        return {p for v in node for p in reads(v)} if isinstance(node, list) else set()

    removed = object()  # a decided Fn::If whose branch is AWS::NoValue: the property goes

    def choose(node: Any) -> Any:
        if isinstance(node, list):
            return [c for c in map(choose, node) if c is not removed]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Fn::If"} and reads(definitions[node["Fn::If"][0]]) <= decided:
            name, if_true, if_false = node["Fn::If"]
            branch = if_true if evaluate(definitions[name], values, definitions) else if_false
            return removed if branch == {"Ref": "AWS::NoValue"} else choose(branch)
        return {k: c for k, c in ((k, choose(v)) for k, v in node.items()) if c is not removed}

    return {**template, **{k: choose(template[k]) for k in ("Resources", "Outputs") if k in template}}


def event_pattern(rule: str, parameters: dict[str, str]) -> dict[str, Any]:
    """The EventPattern of the template's rule `rule` as deployed with these parameters: its Fn::If settled,
    its parameters' Refs replaced by their values. make run's rules use it, so they match what AWS would."""
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(TEMPLATE.read_text())
    values = parameter_values(template, parameters)
    chosen = choose_branches(template, values)["Resources"][rule]["Properties"]["EventPattern"]

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            return values[node["Ref"]] if set(node) == {"Ref"} else {k: resolve(v) for k, v in node.items()}
        return [resolve(v) for v in node] if isinstance(node, list) else node

    pattern: dict[str, Any] = resolve(chosen)
    return pattern


@dataclass(frozen=True)
class LocalStack:
    physical: dict[str, str]  # logical id -> physical id (table name, queue URL, topic ARN)
    environments: dict[str, dict[str, str]]  # function short name -> resolved environment

    def env(self, function: str) -> dict[str, str]:
        return dict(self.environments[function])


def create(session: Any, stack_name: str = "ecluse", parameters: dict[str, str] | None = None) -> LocalStack:
    """Create the stateful resources with moto's CloudFormation; resolve each function's environment."""
    import json

    from local import moto_twin

    moto_twin.apply()  # the embedded AWS behaves like AWS where Écluse depends on it

    full = translated(session.region_name)
    stateful = {k: copy.deepcopy(v) for k, v in full["Resources"].items() if v["Type"] in STATEFUL}
    for resource in stateful.values():
        resource.pop("DeletionPolicy", None)
        resource.pop("UpdateReplacePolicy", None)
    body = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": full.get("Parameters", {}),
        "Conditions": full.get("Conditions", {}),
        "Resources": stateful,
    }
    params = parameter_values(full, parameters or {})
    cloudformation = session.client("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(body),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items() if k in body["Parameters"]],
    )
    status = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
    if status != "CREATE_COMPLETE":
        raise RuntimeError(f"local stack creation ended {status}")
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cloudformation.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    }
    for logical, resource in stateful.items():  # moto gives no physical id to an event bus: its Ref is its name
        if resource["Type"] == "AWS::Events::EventBus" and not physical.get(logical):
            name = resource["Properties"]["Name"]
            name = name["Fn::Sub"] if isinstance(name, dict) else name
            physical[logical] = name.replace("${AWS::StackName}", stack_name)
    sqs = session.client("sqs")
    for logical, resource in stateful.items():  # Ref of a queue is its URL
        if logical in physical and resource["Type"] == "AWS::SQS::Queue" and not physical[logical].startswith("http"):
            physical[logical] = sqs.get_queue_url(QueueName=physical[logical])["QueueUrl"]
    environments = {}
    for short, logical in FUNCTIONS.items():
        variables = full["Resources"][logical]["Properties"].get("Environment", {}).get("Variables", {})
        environments[short] = {k: _resolve(v, physical, params) for k, v in variables.items()}
    return LocalStack(physical, environments)


def _resolve(value: Any, physical: dict[str, str], params: dict[str, str]) -> str:
    if isinstance(value, dict) and "Ref" in value:
        name = value["Ref"]
        return physical.get(name) or params.get(name, "")
    if isinstance(value, str | int | float):
        return str(value)
    raise ValueError(f"local stack cannot resolve environment value {value!r}")
