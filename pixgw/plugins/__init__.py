"""twisted.plugin drop-in package for pixgw backends (AAA ``IAuthenticatorFactory``).

A third party adds a backend by putting a module in a ``pixgw/plugins/`` directory on sys.path
(no ``__init__.py`` needed there) holding an object that provides ``IPlugin`` and
``IAuthenticatorFactory``; ``aaa-server GROUP protocol NAME`` then names it.
"""

from twisted.plugin import pluginPackagePaths

__path__.extend(pluginPackagePaths(__name__))  # type: ignore[no-untyped-call]
__all__: list[str] = []
