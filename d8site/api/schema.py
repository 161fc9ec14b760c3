"""The error answers every API operation shares, added to the OpenAPI schema in one place."""

from __future__ import annotations

ERROR = {
    "type": "object",
    "description": '{"detail": "..."}; validation errors add one key per field with its messages.',
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "additionalProperties": True,
}

# status -> (description, whether it applies to the operation)
COMMON = {
    400: ("Invalid input: malformed or too deeply nested JSON, or field errors.", "input"),
    401: ("No bearer key, or an unknown or revoked one.", "all"),
    403: ("The key or account may not do this (or a session without its CSRF token).", "all"),
    404: ("No such object.", "path"),
    405: ("Method not allowed.", "all"),
    406: ("The Accept header allows no JSON.", "all"),
    413: ("Request body larger than LLM_MAX_BODY_BYTES.", "body"),
    415: ("Request body not application/json.", "body"),
}


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: document the shared errors on every operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            applies = _applies(path, operation)
            responses = operation.setdefault("responses", {})
            for code, (description, when) in COMMON.items():
                if applies[when] and str(code) not in responses:
                    responses[str(code)] = {
                        "description": description,
                        "content": {"application/json": {"schema": ref}},
                    }
    return result


def _applies(path: str, operation: dict) -> dict:
    body = "requestBody" in operation
    return {
        "all": True,
        "body": body,
        "input": body or bool(operation.get("parameters")),
        "path": "{" in path,
    }
