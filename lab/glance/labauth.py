# Token-to-identity paste filter for the lab's glance-api (stands in for keystonemiddleware's
# authtoken). A token is looked up in tokens.json (reloaded when it changes); a known token sets the
# identity headers glance's ContextMiddleware trusts, anything else is marked Invalid, which that
# middleware answers with 401. Identity headers sent by the client are always discarded.
import json
import os
from urllib.parse import unquote

_IDENTITY_HEADERS = ('HTTP_X_IDENTITY_STATUS', 'HTTP_X_USER_ID', 'HTTP_X_USER_NAME',
                     'HTTP_X_PROJECT_ID', 'HTTP_X_PROJECT_NAME', 'HTTP_X_TENANT_ID',
                     'HTTP_X_TENANT_NAME', 'HTTP_X_ROLES', 'HTTP_X_ROLE', 'HTTP_X_SERVICE_CATALOG',
                     'HTTP_X_USER_DOMAIN_ID', 'HTTP_X_PROJECT_DOMAIN_ID', 'HTTP_X_SYSTEM_SCOPE',
                     'HTTP_X_DOMAIN_ID', 'HTTP_X_DOMAIN_NAME', 'HTTP_X_IS_ADMIN_PROJECT')


class _Tokens(object):
    def __init__(self, path):
        self.path = path
        self.mtime = None
        self.table = {}

    def lookup(self, token):
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except OSError:
            return None
        if mtime != self.mtime:
            with open(self.path) as f:
                self.table = json.load(f).get('tokens', {})
            self.mtime = mtime
        return self.table.get(token)


def filter_factory(global_conf, **local_conf):
    tokens = _Tokens(local_conf['tokens_file'])

    def _filter(app):
        def middleware(environ, start_response):
            for header in _IDENTITY_HEADERS:
                environ.pop(header, None)
            # glanceclient %-encodes the token; lab tokens are plain, so unquote is harmless.
            identity = tokens.lookup(unquote(environ.get('HTTP_X_AUTH_TOKEN', '')))
            if identity:
                environ.update(HTTP_X_IDENTITY_STATUS='Confirmed',
                               HTTP_X_USER_ID=identity['user'],
                               HTTP_X_USER_NAME=identity['user'],
                               HTTP_X_PROJECT_ID=identity['project'],
                               HTTP_X_PROJECT_NAME=identity['project'],
                               HTTP_X_USER_DOMAIN_ID='default',
                               HTTP_X_PROJECT_DOMAIN_ID='default',
                               HTTP_X_ROLES=','.join(identity['roles']))
            else:
                environ['HTTP_X_IDENTITY_STATUS'] = 'Invalid'
            return app(environ, start_response)
        return middleware
    return _filter
