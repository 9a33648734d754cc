-- Who ships each distinct observation of one distribution's assets (scorer.classify_shipped runs
-- this once per distribution, its patterns as parameters, so DuckDB compiles each pattern once;
-- $never is a pattern that matches nothing, standing in for a pattern the rule does not give).
-- First match wins: the origin the host recorded (the vendor's, or anyone else's); then third-party
-- markers in the version, DISTRIBUTION tag and maintainer; then the vendor's; else the rule's default
-- for unmarked packages. Software: its recorded vendor, else whether it sits under the OS packages'
-- tree. The running kernel: whether its release is one the vendor builds.
INSERT INTO shipped
SELECT k.distribution, k.kind, k.ns, k.version, k.origin, k.maintainer, k.pkg_distribution, k.path, CASE
    WHEN k.kind = 'software' THEN CASE
        WHEN k.ns <> '' AND $has_vendor_origins THEN CASE
            WHEN regexp_matches(k.ns, $vendor_origins) THEN {'by': 'vendor', 'why': 'vendor ' || k.ns}
            ELSE {'by': 'third_party', 'why': 'vendor ' || k.ns} END
        WHEN regexp_matches(coalesce(k.path, ''), $managed_paths) AND coalesce(k.path, '') <> ''
            THEN {'by': 'vendor', 'why': 'found under the OS packages'' tree (' || k.path || ')'}
        ELSE {'by': 'third_party',
              'why': 'found outside the package manager' || coalesce(' (' || nullif(k.path, '') || ')', '')} END
    WHEN k.kind = 'kernel' AND $has_kernels THEN CASE
        WHEN regexp_matches(k.version, $kernels) THEN {'by': 'vendor', 'why': 'kernel release built by ' || $title}
        ELSE {'by': 'third_party', 'why': 'kernel release ' || k.version || ' is not one ' || $title || ' builds'} END
    WHEN k.kind = 'package' AND NOT list_contains($managers::VARCHAR[], k.ns)
        THEN {'by': 'third_party', 'why': k.ns || ' is not ' || $title || '''s package manager'}
    WHEN k.origin IS NOT NULL AND $has_vendor_origins THEN CASE
        WHEN regexp_matches(k.origin, $vendor_origins) THEN {'by': 'vendor', 'why': 'origin ' || k.origin}
        ELSE {'by': 'third_party', 'why': 'origin ' || k.origin} END
    WHEN regexp_matches(coalesce(k.origin, ''), $third_origins) AND k.origin IS NOT NULL
        THEN {'by': 'third_party', 'why': 'origin ' || k.origin}
    WHEN regexp_matches(k.version, $third_versions)
        THEN {'by': 'third_party', 'why': 'third-party version marker'}
    WHEN regexp_matches(coalesce(k.pkg_distribution, ''), $third_distributions) AND k.pkg_distribution IS NOT NULL
        THEN {'by': 'third_party', 'why': 'distribution tag ' || k.pkg_distribution}
    WHEN regexp_matches(coalesce(k.maintainer, ''), $third_maintainers) AND k.maintainer IS NOT NULL
        THEN {'by': 'third_party', 'why': 'maintainer ' || k.maintainer}
    WHEN regexp_matches(k.version, $vendor_versions)
        THEN {'by': 'vendor', 'why': $title || ' version marker'}
    WHEN regexp_matches(coalesce(k.pkg_distribution, ''), $vendor_distributions) AND k.pkg_distribution IS NOT NULL
        THEN {'by': 'vendor', 'why': 'distribution tag ' || k.pkg_distribution}
    WHEN regexp_matches(coalesce(k.maintainer, ''), $vendor_maintainers) AND k.maintainer IS NOT NULL
        THEN {'by': 'vendor', 'why': 'maintainer ' || k.maintainer}
    ELSE {'by': $unmarked, 'why': 'no origin or marker: ' || $title || '''s rule takes unmarked '
                                  || CASE WHEN k.kind = 'kernel' THEN 'kernels' ELSE 'packages' END
                                  || ' as ' || replace($unmarked, '_', ' ')} END
FROM shipped_keys k
WHERE k.distribution = $distribution;
