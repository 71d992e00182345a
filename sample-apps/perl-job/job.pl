#!/usr/bin/perl
# perl-job sample: modules are required only in the branch that needs them.
#   job.pl hello          one line, core pragmas only (the default CMD)
#   job.pl sha FILE       SHA-1 and SHA-256 of FILE (Digest::SHA)
#   job.pl gzip FILE      FILE gzip-compressed (IO::Compress::Gzip), in base64
#   job.pl gunzip FILE    FILE compressed and decompressed again: byte count and equality
# Exit codes: 0 done, 2 bad usage, 1 unreadable file or failed compression.
use strict;
use warnings;
no warnings 'once';   # the modules' error variables are named once, after a require

my ($mode, $file) = @ARGV;
$mode //= 'hello';

sub slurp {
    my ($path) = @_;
    open(my $fh, '<:raw', $path) or die "job.pl: cannot read $path: $!\n";
    local $/;
    my $data = <$fh>;
    close($fh);
    return $data;
}

if ($mode eq 'hello') {
    printf "perl-job: hello from perl %vd\n", $^V;
    exit 0;
}
if (!defined $file) {
    print STDERR "usage: job.pl hello | sha FILE | gzip FILE | gunzip FILE\n";
    exit 2;
}
my $data = eval { slurp($file) };
if (!defined $data) {
    print STDERR $@;
    exit 1;
}
if ($mode eq 'sha') {
    require Digest::SHA;
    printf "sha1=%s\n", Digest::SHA::sha1_hex($data);
    printf "sha256=%s\n", Digest::SHA::sha256_hex($data);
}
elsif ($mode eq 'gzip') {
    require IO::Compress::Gzip;
    require MIME::Base64;
    my $compressed;
    IO::Compress::Gzip::gzip(\$data => \$compressed, Minimal => 1)
        or die "gzip failed: $IO::Compress::Gzip::GzipError\n";
    printf "gzip %d -> %d bytes\n", length($data), length($compressed);
    print MIME::Base64::encode_base64($compressed, ''), "\n";
}
elsif ($mode eq 'gunzip') {
    require IO::Compress::Gzip;
    require IO::Uncompress::Gunzip;
    my ($compressed, $back);
    IO::Compress::Gzip::gzip(\$data => \$compressed)
        or die "gzip failed: $IO::Compress::Gzip::GzipError\n";
    IO::Uncompress::Gunzip::gunzip(\$compressed => \$back)
        or die "gunzip failed: $IO::Uncompress::Gunzip::GunzipError\n";
    printf "roundtrip %d bytes %s\n", length($back), ($back eq $data ? 'equal' : 'DIFFERENT');
}
else {
    print STDERR "job.pl: unknown mode '$mode'\n";
    exit 2;
}
exit 0;
