import marshmallow as ma

from fieldservice.auth.models import Role


class UserSchema(ma.Schema):
    id = ma.fields.Integer()
    username = ma.fields.String()
    name = ma.fields.String()
    role = ma.fields.String()
    email = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    active = ma.fields.Boolean()
    version = ma.fields.Integer()


class TokenArgs(ma.Schema):
    username = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    password = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))


class TokenSchema(ma.Schema):
    token = ma.fields.String()
    expires_at = ma.fields.AwareDateTime()
    user = ma.fields.Nested(UserSchema(only=("id", "username", "role", "name")))


class UserCreateArgs(ma.Schema):
    username = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    password = ma.fields.String(required=True, validate=ma.validate.Length(min=8, max=200))
    role = ma.fields.String(required=True, validate=ma.validate.OneOf([r.value for r in Role]))
    name = ma.fields.String(load_default="", validate=ma.validate.Length(max=120))
    email = ma.fields.Email(load_default=None, allow_none=True)
    phone = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=40))


class UserUpdateArgs(ma.Schema):
    version = ma.fields.Integer(required=True)
    name = ma.fields.String(validate=ma.validate.Length(max=120))
    role = ma.fields.String(validate=ma.validate.OneOf([r.value for r in Role]))
    email = ma.fields.Email(allow_none=True)
    phone = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=40))
    active = ma.fields.Boolean()
    password = ma.fields.String(validate=ma.validate.Length(min=8, max=200))


class LoginSessionSchema(ma.Schema):
    """One of the caller's logins: a console session or an API token (never its key)."""

    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"enum": ["console", "api"]})
    created_at = ma.fields.AwareDateTime()
    last_seen_at = ma.fields.AwareDateTime()
    expires_at = ma.fields.AwareDateTime()
    user_agent = ma.fields.String()
    remote_addr = ma.fields.String(allow_none=True)
    current = ma.fields.Boolean(metadata={"description": "The login this request came with."})


class LoginSessionListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(LoginSessionSchema))
    total = ma.fields.Integer()


class EndedSchema(ma.Schema):
    ended = ma.fields.Integer(metadata={"description": "How many logins were ended."})
