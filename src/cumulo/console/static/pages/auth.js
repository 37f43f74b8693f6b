// Sign up, log in (a cookie session), verify email, forgot and reset password.
import { ApiError, get, post } from "../lib/api.js";
import { h } from "../lib/dom.js";
import { form, notice } from "../lib/ui.js";

function card(main, title, ...children) {
  main.append(h("section", { class: "auth-card" },
    h("p", { class: "brand" }, h("img", { src: "/console/assets/icon.svg", alt: "" }), "Cumulo"),
    h("h1", {}, title), ...children));
}

function login({ main, query, signedIn }) {
  const info = query.get("registered") ? notice("Account created. Log in with your email and password.") : null;
  const f = form({
    submit: "Log in",
    fields: [
      { name: "email", label: "Email", type: "email", required: true, autocomplete: "username" },
      { name: "password", label: "Password", type: "password", required: true, autocomplete: "current-password" },
    ],
    onSubmit: async (v) => {
      const session = await post("/auth/session", { email: v.email, password: v.password });
      await signedIn(session.user);
    },
  });
  card(main, "Log in", info, f,
    h("p", { class: "links" }, h("a", { href: "/console/signup" }, "Create an account"), " · ",
      h("a", { href: "/console/forgot" }, "Forgot your password?")));
  f.inputs.email.focus();
}

function signup({ main, navigate, signedIn }) {
  const f = form({
    submit: "Sign up",
    fields: [
      { name: "name", label: "Name", required: true, autocomplete: "name" },
      { name: "email", label: "Email", type: "email", required: true, autocomplete: "email" },
      { name: "password", label: "Password", type: "password", required: true, autocomplete: "new-password",
        help: "At least 8 characters, mixing letters with digits, capitals or symbols." },
    ],
    onSubmit: async (v) => {
      await post("/auth/register", v);
      try {
        const session = await post("/auth/session", { email: v.email, password: v.password });
        await signedIn(session.user);
      } catch (error) {
        if (error instanceof ApiError && error.code === "EMAIL_NOT_VERIFIED") {
          f.replaceWith(notice("Check your mailbox: follow the link we sent to verify your address, then log in."));
        } else if (error instanceof ApiError && error.status === 401) {
          navigate("/console/login?registered=1"); // the address already had an account: its owner was mailed
        } else throw error;
      }
    },
  });
  card(main, "Create your account", f, h("p", { class: "links" }, "Have an account? ", h("a", { href: "/console/login" }, "Log in")));
  f.inputs.name.focus();
}

function forgot({ main }) {
  const f = form({
    submit: "Send reset token",
    fields: [{ name: "email", label: "Email", type: "email", required: true, autocomplete: "email" }],
    onSubmit: async (v) => {
      const out = await post("/auth/forgot-password", v);
      f.replaceWith(notice(out.message), h("p", {}, h("a", { href: "/console/reset" }, "I have a reset token")));
    },
  });
  card(main, "Forgot your password", f, h("p", { class: "links" }, h("a", { href: "/console/login" }, "Back to log in")));
}

function reset({ main, query }) {
  const f = form({
    submit: "Set new password",
    fields: [
      { name: "token", label: "Reset token", required: true, value: query.get("token") || "" },
      { name: "new_password", label: "New password", type: "password", required: true, autocomplete: "new-password" },
    ],
    onSubmit: async (v) => {
      await post("/auth/reset-password", v);
      f.replaceWith(notice("Password updated."), h("p", {}, h("a", { href: "/console/login" }, "Log in")));
    },
  });
  card(main, "Reset your password", f);
}

async function verify({ main, params }) {
  try {
    await get(`/auth/verify/${encodeURIComponent(params.token)}`);
    card(main, "Email verified", notice("Your address is verified."), h("p", {}, h("a", { href: "/console/login" }, "Log in")));
  } catch (error) {
    card(main, "Verification failed", notice(error.message, "error"));
  }
}

export const routes = [
  { path: "/console/login", title: "Log in", public: true, render: login },
  { path: "/console/signup", title: "Sign up", public: true, render: signup },
  { path: "/console/forgot", title: "Forgot password", public: true, render: forgot },
  { path: "/console/reset", title: "Reset password", public: true, render: reset },
  { path: "/console/verify/:token", title: "Verify email", public: true, render: verify },
];
