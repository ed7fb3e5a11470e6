"""Pure rules, no I/O, over records already read: practice and portal settings with their
defaults and resolution (R9, R35, R37), whether an account is open and why not (R2, R37, R38),
caregiver grants (R30–R33, B4, B5), who acted (R47), what a new password must be (R45), a
person's age (R10, B4), and the catalogue of email kinds (R9, R29, R36, R43, B8)."""
