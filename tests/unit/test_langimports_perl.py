"""Perl use/require (slimmer/langimports/perl.py): what a file names, the files perl
loads for it, and @INC, on small fake images."""
from __future__ import annotations

import pytest

from slimmer.langimports import perl_path, scan_perl
from tests.unit.langfs import FakeFs, Link, Proc, imports


# --- Perl ----------------------------------------------------------------------------------

PL = b'''#!/usr/bin/perl
use strict;
use warnings;
use 5.010;
use v5.36;
use parent -norequire, 'Not::Loaded';
use base qw(Exporter Base::Class);
use parent 'Parent::One', "Parent::Two";
use if $] < 5.008, 'utf8';
use lib "$FindBin::Bin/../lib", 'vendor';
no warnings 'once';
# use Commented::Out;
my $x = $#array;   # $# is no comment start
sub digest {
    require Digest::SHA;
    require IO::Compress::Gzip if $ENV{GZ};
    eval { require JSON::PP; 1 } or die;
    eval "use Storable; 1";
    require "config/settings.pl";
    my $m = "Computed::Name"; require $m;          # computed: out of reach
    XSLoader::load('Some::XS', $VERSION);
}

=head1 NAME

use Pod::Only;

=cut

1;
__END__
use After::End;
'''


def test_perl_scan():
    found = [(imp.name, imp.kind) for imp in scan_perl(PL)]
    assert found == [
        ("strict", "use"), ("warnings", "use"), ("parent", "use"), ("base", "use"), ("Exporter", "use"),
        ("Base::Class", "use"), ("Parent::One", "use"), ("Parent::Two", "use"),
        ("if", "use"), ("utf8", "use"), ("lib", "use"), ("$BIN/../lib", "lib"), ("vendor", "lib"),
        ("Digest::SHA", "require"), ("IO::Compress::Gzip", "require"), ("JSON::PP", "require"),
        ("Storable", "use"), ("config/settings.pl", "file"), ("Some::XS", "xs")]


PERL = {
    "/usr/bin/perl": b"\x7fELF",
    "/etc/perl": "DIR",
    "/usr/local/lib/x86_64-linux-gnu/perl/5.36.0": "DIR",
    "/usr/local/share/perl/5.36.0": "DIR",
    "/usr/lib/x86_64-linux-gnu/perl5/5.36": "DIR",
    "/usr/share/perl5/Parent/One.pm": "",
    "/usr/lib/x86_64-linux-gnu/perl-base/strict.pm": "",
    "/usr/lib/x86_64-linux-gnu/perl-base/vars.pm": "",
    "/usr/lib/x86_64-linux-gnu/perl/5.36/Digest/SHA.pm": "",
    "/usr/lib/x86_64-linux-gnu/perl/5.36/auto/Digest/SHA/SHA.so": b"\x7fELF",
    "/usr/lib/x86_64-linux-gnu/perl/5.36/auto/POSIX/POSIX.so": b"\x7fELF",
    "/usr/lib/x86_64-linux-gnu/perl/5.36/auto/POSIX/autosplit.ix": "",
    "/usr/lib/x86_64-linux-gnu/perl/5.36/POSIX.pm": "",
    "/usr/lib/x86_64-linux-gnu/perl/5.36.0": Link("5.36"),
    "/usr/lib/x86_64-linux-gnu/perl/debian-config-data-5.36.0": "DIR",
    "/usr/share/perl/5.36/IO/Compress/Gzip.pm": "",
    "/usr/share/perl/5.36/File/GlobMapper.pm": "",
    "/usr/share/perl/5.36/config/settings.pl": "",
    "/usr/share/perl/5.36.0": Link("5.36"),
    "/usr/local/lib/site_perl": "DIR",
    "/srv/bin/job.pl": "",
    "/srv/lib/My/Local.pm": "",
}


def test_perl_inc_is_discovered_in_debian_order_without_a_hard_coded_version():
    fs = FakeFs(PERL)
    assert perl_path(fs, {"PERL5LIB": "/opt/perl"}, [Proc("/usr/bin/perl", ("perl", "-I", "/srv/lib", "x.pl"))]).dirs \
        == ("/srv/lib", "/etc/perl", "/usr/local/lib/x86_64-linux-gnu/perl/5.36.0", "/usr/local/share/perl/5.36.0",
            "/usr/lib/x86_64-linux-gnu/perl5/5.36", "/usr/share/perl5", "/usr/lib/x86_64-linux-gnu/perl-base",
            "/usr/lib/x86_64-linux-gnu/perl/5.36", "/usr/share/perl/5.36", "/usr/local/lib/site_perl")


@pytest.mark.parametrize("source, expected", [
    ("use strict;\nuse vars qw($x);\n", ["/usr/lib/x86_64-linux-gnu/perl-base/strict.pm",
                                         "/usr/lib/x86_64-linux-gnu/perl-base/vars.pm"]),
    ("sub f { require Digest::SHA; }\n", ["/usr/lib/x86_64-linux-gnu/perl/5.36/Digest/SHA.pm",
                                          "/usr/lib/x86_64-linux-gnu/perl/5.36/auto/Digest/SHA/SHA.so"]),
    ("use POSIX ();\n", ["/usr/lib/x86_64-linux-gnu/perl/5.36/POSIX.pm",
                         "/usr/lib/x86_64-linux-gnu/perl/5.36/auto/POSIX/POSIX.so",
                         "/usr/lib/x86_64-linux-gnu/perl/5.36/auto/POSIX/autosplit.ix"]),
    ("if ($gz) { require IO::Compress::Gzip }\n", ["/usr/share/perl/5.36/IO/Compress/Gzip.pm"]),
    ("use parent 'Parent::One';\n", ["/usr/share/perl5/Parent/One.pm"]),
    ("require 'config/settings.pl';\n", ["/usr/share/perl/5.36/config/settings.pl"]),
    ("use FindBin;\nuse lib \"$FindBin::Bin/../lib\";\nuse My::Local;\n", ["/srv/lib/My/Local.pm"]),
    ("use Not::Installed;\n", []),
])
def test_perl_resolution(source, expected):
    fs = FakeFs({**PERL, "/srv/bin/job.pl": source})
    assert imports(fs, "/srv/bin/job.pl", workdir="/srv") == expected
