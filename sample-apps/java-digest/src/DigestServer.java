// Sample app for slimmer: a tiny HTTP server (com.sun.net.httpserver) with
// MessageDigest, java.time zones and the default TLS trust store.
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

public final class DigestServer {
    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "8080"));
        HttpServer server = HttpServer.create(new InetSocketAddress("0.0.0.0", port), 16);
        server.createContext("/", DigestServer::route);
        server.start();
        System.out.println("java-digest listening on " + port);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> server.stop(0)));
    }

    private static void route(HttpExchange exchange) throws IOException {
        try {
            Map<String, String> query = parseQuery(exchange.getRequestURI().getRawQuery());
            switch (exchange.getRequestURI().getPath()) {
                case "/" -> send(exchange, 200, "text/html",
                        "<!doctype html><html><head><title>java-digest sample</title></head><body>"
                        + "<h1>java-digest sample</h1><ul>"
                        + "<li><a href=\"/digest?text=hello\">SHA-256 of a text</a></li>"
                        + "<li><a href=\"/time?tz=Europe/Paris\">time in a zone</a></li>"
                        + "<li><a href=\"/tls\">TLS trust store</a></li>"
                        + "</ul></body></html>");
                case "/digest" -> digest(exchange, query);
                case "/time" -> time(exchange, query);
                case "/tls" -> tls(exchange);
                default -> send(exchange, 404, "application/json", "{\"error\":\"not found\"}");
            }
        } catch (Exception e) {
            send(exchange, 500, "application/json", "{\"error\":\"" + jsonEscape(e.toString()) + "\"}");
        }
    }

    private static void digest(HttpExchange exchange, Map<String, String> query) throws IOException {
        String text = query.getOrDefault("text", "");
        String algorithm = query.getOrDefault("alg", "SHA-256");
        try {
            MessageDigest md = MessageDigest.getInstance(algorithm);
            String hex = HexFormat.of().formatHex(md.digest(text.getBytes(StandardCharsets.UTF_8)));
            send(exchange, 200, "application/json", "{\"algorithm\":\"" + jsonEscape(algorithm)
                    + "\",\"provider\":\"" + md.getProvider().getName() + "\",\"hex\":\"" + hex + "\"}");
        } catch (NoSuchAlgorithmException e) {
            send(exchange, 400, "application/json", "{\"error\":\"unknown algorithm " + jsonEscape(algorithm) + "\"}");
        }
    }

    private static void time(HttpExchange exchange, Map<String, String> query) throws IOException {
        String zone = query.getOrDefault("tz", "UTC");
        ZonedDateTime instant = ZonedDateTime.parse("2024-01-15T12:00:00Z");
        try {
            ZonedDateTime local = instant.withZoneSameInstant(ZoneId.of(zone));
            String offset = local.getOffset().getId();
            send(exchange, 200, "application/json", "{\"tz\":\"" + jsonEscape(zone)
                    + "\",\"local\":\"" + local.format(DateTimeFormatter.ISO_OFFSET_DATE_TIME)
                    + "\",\"utcoffset\":\"" + ("Z".equals(offset) ? "+00:00" : offset) + "\"}");
        } catch (java.time.DateTimeException e) {
            send(exchange, 400, "application/json", "{\"error\":\"unknown time zone " + jsonEscape(zone) + "\"}");
        }
    }

    private static void tls(HttpExchange exchange) throws Exception {
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init((KeyStore) null);
        int anchors = 0;
        for (var tm : tmf.getTrustManagers()) {
            if (tm instanceof X509TrustManager x509) {
                anchors += x509.getAcceptedIssuers().length;
            }
        }
        SSLContext context = SSLContext.getInstance("TLSv1.3");
        context.init(null, tmf.getTrustManagers(), null);
        send(exchange, 200, "application/json", "{\"trust_anchors\":" + anchors
                + ",\"protocol\":\"" + context.getProtocol() + "\"}");
    }

    private static Map<String, String> parseQuery(String raw) {
        Map<String, String> query = new HashMap<>();
        if (raw == null || raw.isEmpty()) {
            return query;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            String key = eq < 0 ? pair : pair.substring(0, eq);
            String value = eq < 0 ? "" : pair.substring(eq + 1);
            query.put(URLDecoder.decode(key, StandardCharsets.UTF_8), URLDecoder.decode(value, StandardCharsets.UTF_8));
        }
        return query;
    }

    private static String jsonEscape(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"");
    }

    private static void send(HttpExchange exchange, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type + "; charset=utf-8");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }
}
