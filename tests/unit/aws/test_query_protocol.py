"""Query/XML (IAM, STS) against botocore's own Query serializer and parser."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest

from pullcache.aws.errors import ErrorReply, MalformedRequest, MissingAction, UnknownOperation
from pullcache.aws.models import ServiceModels
from pullcache.aws.query_protocol import QueryProtocol
from pullcache.aws.validation_messages import VALIDATION_DIALECTS
from pullcache.aws.wire import WireRequest
from tests.unit.aws.botocore_wire import botocore_parse, botocore_request, without_metadata

CREATED = datetime(2026, 11, 28, 1, 2, 3, tzinfo=UTC)
LAST_USED = datetime(2026, 11, 27, 23, 59, 59, tzinfo=UTC)


@pytest.fixture
def iam(models: ServiceModels) -> QueryProtocol:
    return QueryProtocol(models.get("iam"), VALIDATION_DIALECTS["iam"])


@pytest.fixture
def sts(models: ServiceModels) -> QueryProtocol:
    return QueryProtocol(models.get("sts"), VALIDATION_DIALECTS["sts"])


def form(**params: str) -> WireRequest:
    return WireRequest({"Content-Type": "application/x-www-form-urlencoded"}, urlencode(params).encode())


def user(name: str) -> dict[str, Any]:
    return {
        "Path": "/",
        "UserName": name,
        "UserId": "AIDACKCEVSQ6C2EXAMPLE",
        "Arn": f"arn:aws:iam::123456789012:user/{name}",
        "CreateDate": CREATED,
    }


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        (
            "CreateUser",
            {
                "Path": "/engineering/",
                "UserName": "alice",
                "PermissionsBoundary": "arn:aws:iam::aws:policy/PowerUserAccess",
                "Tags": [{"Key": "team", "Value": "platform"}, {"Key": "cost center", "Value": ""}],
            },
        ),
        ("ListUsers", {"PathPrefix": "/engineering/", "Marker": "page-2", "MaxItems": 10}),
        ("AttachRolePolicy", {"RoleName": "builder", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
        ("CreateUser", {"UserName": "bob", "Tags": []}),
    ],
)
def test_botocore_request_parses_to_the_params_it_was_made_from(
    iam: QueryProtocol, models: ServiceModels, operation: str, params: dict[str, Any]
) -> None:
    model = models.get("iam").operation_model(operation)

    parsed = iam.parse(botocore_request(model, params))

    assert parsed.operation.name == operation
    assert parsed.params == params


def test_create_user_output_reads_back_through_botocore(iam: QueryProtocol, models: ServiceModels) -> None:
    operation = models.get("iam").operation_model("CreateUser")
    output = {"User": {**user("alice"), "Tags": [{"Key": "team", "Value": "platform"}]}}

    parsed = botocore_parse(operation, iam.serialize(operation, output, "req-1"))

    assert without_metadata(parsed) == output
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"


@pytest.mark.parametrize(
    "output",
    [
        {"Users": [user("alice"), user("bob")], "IsTruncated": True, "Marker": "page-3"},
        {"Users": [], "IsTruncated": False},
    ],
)
def test_list_users_page_reads_back_through_botocore(
    iam: QueryProtocol, models: ServiceModels, output: dict[str, Any]
) -> None:
    operation = models.get("iam").operation_model("ListUsers")

    parsed = botocore_parse(operation, iam.serialize(operation, output, "req-1"))

    assert without_metadata(parsed) == output


def test_get_role_nested_structures_and_timestamps_read_back(iam: QueryProtocol, models: ServiceModels) -> None:
    operation = models.get("iam").operation_model("GetRole")
    role = {
        "Path": "/",
        "RoleName": "builder",
        "RoleId": "AROADBQP57FF2AEXAMPLE",
        "Arn": "arn:aws:iam::123456789012:role/builder",
        "CreateDate": CREATED,
        "AssumeRolePolicyDocument": "%7B%22Version%22%3A%222012-10-17%22%7D",
        "MaxSessionDuration": 3600,
        "PermissionsBoundary": {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": "arn:aws:iam::aws:policy/PowerUserAccess",
        },
        "Tags": [{"Key": "team", "Value": "platform & <ops>"}],
        "RoleLastUsed": {"LastUsedDate": LAST_USED, "Region": "us-east-1"},
    }

    response = iam.serialize(operation, {"Role": role}, "req-1")

    assert b"<CreateDate>2026-11-28T01:02:03Z</CreateDate>" in response.body
    assert without_metadata(botocore_parse(operation, response)) == {"Role": role}


def test_operation_without_output_answers_only_metadata(iam: QueryProtocol, models: ServiceModels) -> None:
    operation = models.get("iam").operation_model("AttachRolePolicy")

    response = iam.serialize(operation, {}, "req-1")

    assert response.body == (
        b'<AttachRolePolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">\n'
        b"  <ResponseMetadata>\n"
        b"    <RequestId>req-1</RequestId>\n"
        b"  </ResponseMetadata>\n"
        b"</AttachRolePolicyResponse>\n"
    )
    assert without_metadata(botocore_parse(operation, response)) == {}


def test_get_caller_identity_is_the_documented_document(sts: QueryProtocol, models: ServiceModels) -> None:
    operation = models.get("sts").operation_model("GetCallerIdentity")
    output = {"UserId": "AIDACKCEVSQ6C2EXAMPLE", "Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/Al"}

    response = sts.serialize(operation, output, "01234567-89ab-cdef-0123-456789abcdef")

    assert response.body == (
        b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
        b"  <GetCallerIdentityResult>\n"
        b"    <UserId>AIDACKCEVSQ6C2EXAMPLE</UserId>\n"
        b"    <Account>123456789012</Account>\n"
        b"    <Arn>arn:aws:iam::123456789012:user/Al</Arn>\n"
        b"  </GetCallerIdentityResult>\n"
        b"  <ResponseMetadata>\n"
        b"    <RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>\n"
        b"  </ResponseMetadata>\n"
        b"</GetCallerIdentityResponse>\n"
    )
    assert response.headers["Content-Type"] == "text/xml"
    assert without_metadata(botocore_parse(operation, response)) == output


def test_get_caller_identity_request_from_botocore_has_no_params(sts: QueryProtocol, models: ServiceModels) -> None:
    operation = models.get("sts").operation_model("GetCallerIdentity")

    parsed = sts.parse(botocore_request(operation, {}))

    assert (parsed.operation.name, parsed.params) == ("GetCallerIdentity", {})


def test_error_is_an_error_response_botocore_reads(iam: QueryProtocol, models: ServiceModels) -> None:
    operation = models.get("iam").operation_model("GetRole")
    message = "The role with name builder cannot be found."

    response = iam.render_error(ErrorReply(404, "NoSuchEntity", message), "req-7")

    assert response.body == (
        b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">\n'
        b"  <Error>\n"
        b"    <Type>Sender</Type>\n"
        b"    <Code>NoSuchEntity</Code>\n"
        b"    <Message>The role with name builder cannot be found.</Message>\n"
        b"  </Error>\n"
        b"  <RequestId>req-7</RequestId>\n"
        b"</ErrorResponse>\n"
    )
    parsed = botocore_parse(operation, response)
    assert parsed["Error"] == {"Type": "Sender", "Code": "NoSuchEntity", "Message": message}
    assert parsed["ResponseMetadata"]["RequestId"] == "req-7"
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_server_fault_is_a_receiver_error(iam: QueryProtocol, models: ServiceModels) -> None:
    operation = models.get("iam").operation_model("GetRole")

    response = iam.render_error(ErrorReply(500, "ServiceFailure", "oops"), "req-7")

    assert botocore_parse(operation, response)["Error"]["Type"] == "Receiver"


def test_unknown_action_is_invalid_action_naming_the_version(iam: QueryProtocol) -> None:
    with pytest.raises(UnknownOperation) as raised:
        iam.parse(form(Action="Frobnicate", Version="2010-05-08"))

    reply = iam.reply_for(raised.value)
    assert reply == ErrorReply(400, "InvalidAction", "Could not find operation Frobnicate for version 2010-05-08")


def test_request_without_action_is_missing_action(iam: QueryProtocol) -> None:
    with pytest.raises(MissingAction) as raised:
        iam.parse(form(Version="2010-05-08", UserName="alice"))

    assert iam.reply_for(raised.value).error_code == "MissingAction"


def test_parameters_in_the_query_string_count_too(iam: QueryProtocol) -> None:
    request = WireRequest({}, b"", query="Action=GetUser&Version=2010-05-08&UserName=alice")

    parsed = iam.parse(request)

    assert (parsed.operation.name, parsed.params) == ("GetUser", {"UserName": "alice"})


@pytest.mark.parametrize(("field", "text"), [("MaxItems", "ten"), ("MaxItems", "")])
def test_unreadable_number_is_a_validation_error(iam: QueryProtocol, field: str, text: str) -> None:
    with pytest.raises(MalformedRequest) as raised:
        iam.parse(form(Action="ListUsers", Version="2010-05-08", **{field: text}))

    assert iam.reply_for(raised.value).error_code == "ValidationError"


def test_list_elements_are_read_in_index_order(iam: QueryProtocol) -> None:
    request = form(
        Action="CreateUser",
        Version="2010-05-08",
        UserName="alice",
        **{"Tags.member.10.Key": "k10", "Tags.member.10.Value": "v10", "Tags.member.2.Key": "k2"},
        **{"Tags.member.2.Value": "v2"},
    )

    assert iam.parse(request).params["Tags"] == [{"Key": "k2", "Value": "v2"}, {"Key": "k10", "Value": "v10"}]


@pytest.mark.parametrize("key", ["UserName.0", "UserName.-1", "UserName.1.2.3", "UserName.4294967296"])
def test_a_scalar_written_as_a_structure_or_list_is_absent(iam: QueryProtocol, key: str) -> None:
    parsed = iam.parse(form(Action="GetUser", Version="2010-05-08", **{key: "alice"}))

    assert parsed.params == {}


def test_list_elements_whose_number_is_not_written_plainly_are_absent(iam: QueryProtocol) -> None:
    request = form(
        Action="CreateOpenIDConnectProvider",
        Version="2010-05-08",
        Url="https://example.com",
        **{"ClientIDList.member.01": "padded", "ClientIDList.member.2": "plain", "ClientIDList.member.3.x": "deep"},
    )

    assert iam.parse(request).params["ClientIDList"] == ["plain"]


def test_an_error_echoing_control_characters_is_still_xml(iam: QueryProtocol) -> None:
    with pytest.raises(UnknownOperation) as raised:
        iam.parse(form(Action="a\x00b\x0bc", Version="2010-05-08"))

    body = iam.render_error(iam.reply_for(raised.value), "request-id").body

    message = ElementTree.fromstring(body).find(".//{*}Message")
    assert message is not None
    assert message.text == "Could not find operation a\ufffdb\ufffdc for version 2010-05-08"
