-- Reserved for the branch that owns migration 0002 (session 2); it only
-- keeps the versions of this branch consecutive. The integrator drops this
-- file when the real 0002 lands.
SELECT 1;
