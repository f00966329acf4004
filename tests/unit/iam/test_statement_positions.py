"""Statement positions as IAM's policy simulator reports them (line and column just past each brace, from 1)."""

from __future__ import annotations

import json

from pullcache.iam.statement_positions import Position, StatementSpan, statement_spans

# The document and the answer of AWS's own example (aws-cli, examples/iam/simulate-custom-policy.rst).
AWS_EXAMPLE = (
    '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*",'
    '"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}'
)


def test_a_single_statement_object_is_reported_as_aws_reports_it() -> None:
    assert statement_spans(AWS_EXAMPLE) == [StatementSpan(Position(1, 38), Position(1, 167))]


def test_statements_of_an_indented_document_are_reported_by_line_and_column() -> None:
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Pull", "Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "*"},
                {"Sid": "NoPush", "Effect": "Deny", "Action": "ecr:PutImage", "Resource": "*"},
            ],
        },
        indent=4,
    )
    lines = document.splitlines()
    assert lines[3] == "        {"
    assert lines[8] == "        },"

    spans = statement_spans(document)

    assert spans == [
        StatementSpan(Position(4, 10), Position(9, 10)),
        StatementSpan(Position(10, 10), Position(15, 10)),
    ]


def test_braces_and_a_statement_key_inside_strings_do_not_count() -> None:
    document = (
        '{"Id": "{\\"Statement\\": [}", "Statement": [{"Sid": "a}b", "Effect": "Allow", '
        '"Action": "s3:*", "Resource": "*"}]}'
    )

    spans = statement_spans(document)

    start = document.index('{"Sid"')
    assert spans == [StatementSpan(Position(1, start + 2), Position(1, len(document) - 1))]


def test_text_that_is_no_policy_object_has_no_positions() -> None:
    assert statement_spans("[1, 2]") == []
    assert statement_spans('{"Version": "2012-10-17"}') == []
    assert statement_spans('{"Statement": [') == []
