/** Request bodies of the accounts-and-sessions routes (API.md's rules for each field). */
import { z } from "zod";

const utf8 = new TextEncoder();
const CONTROL = /[\p{Cc}\u2028\u2029]/u;

const username = z.string()
  .transform((value) => value.normalize("NFC").trim())
  .pipe(
    z.string()
      .refine((value) => [...value].length >= 3, "must be at least 3 characters")
      .refine((value) => [...value].length <= 100, "must be at most 100 characters")
      .refine((value) => !CONTROL.test(value), "must not contain control characters"),
  );

const email = z.string().trim().toLowerCase()
  .max(255, "must be at most 255 characters")
  .pipe(z.email("must be a valid email address"));

const password = z.string()
  .refine((value) => utf8.encode(value).length >= 8, "must be at least 8 bytes")
  .refine(
    (value) => utf8.encode(value).length <= 72,
    "must be at most 72 bytes of UTF-8 (bcrypt's limit)",
  );

/** POST /auth/register */
export const registerBody = z.object({ username, email, password });

/** A password given to be checked: only its shape; anything else is simply a wrong credential. */
const givenPassword = z.string().min(1, "must not be empty").max(1024);

/** POST /auth/login: only shapes are checked; anything else is simply a wrong credential. */
export const loginBody = z.object({
  email: z.string().trim().toLowerCase().min(1, "must not be empty").max(255),
  password: givenPassword,
});

/** PUT /me/password: the new password follows registration's rules. */
export const changePasswordBody = z.object({
  currentPassword: givenPassword,
  newPassword: password,
});

/** POST /auth/refresh and POST /auth/logout */
export const refreshBody = z.object({
  refreshToken: z.string().min(1, "must not be empty").max(512),
});
