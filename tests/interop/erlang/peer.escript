#!/usr/bin/env escript
%% -*- erlang -*-
%%! -noshell
%%
%% erlang-peer: Erlang/OTP's ssl application (OTP 25, Debian's erlang-ssl) as a TLS peer
%% for tlskit's interop tests, on 127.0.0.1 only.
%%
%% Three modes, the first argument:
%%   server FLAGS   listens on 127.0.0.1 (port chosen by the OS), prints "LISTENING <port>"
%%                  and serves connections one after another, forever (or --n of them).
%%                  Each one: the handshake, then one JSON line describing the connection
%%                  (printed as "CONN <json>" and sent to the client), then an echo of
%%                  everything the client sends until it closes; then "ECHOED <bytes>
%%                  <sha256>". A failed handshake prints "HANDSHAKE ERROR <reason>" (a
%%                  connection failing later, "CONNECTION ERROR <reason>").
%%   client FLAGS   connects --n times (later connections may resume), sends --send bytes
%%                  in --rounds pieces, each read back before the next is sent (or, with
%%                  --send 0, reads until the server closes), then closes and prints one
%%                  JSON line per connection. A failure prints "ERROR <reason>"; the exit
%%                  status is 0 or 1.
%%   commands       one VM for many jobs (an Erlang VM takes most of a second to start):
%%                  reads lines "<tag> server|client FLAGS" on stdin and runs each as its
%%                  own Erlang process, every output line prefixed with "<tag> "; a client
%%                  job ends with "<tag> EXIT <status>". "<tag> stop" ends a job (a
%%                  server, with its sockets): "<tag> STOPPED". The VM ends with stdin.
%%
%% Errors are printed as ssl returns them, e.g. {tls_alert,{unknown_ca,"..."}}, on one line.
%% Both sides read in active mode, not with ssl:recv (see next_data/1).
%%
%% Flags (both sides unless said): --versions 1.3,1.2; --suites, --groups, --sigalgs (IANA
%% names, preference order); --alpn p1,p2; --cert and --key (PEM: the server's chain and
%% key, or a client certificate); --ca PEM (client: its roots; server: require a client
%% certificate from them); --name (client: SNI and the name checked, default localhost);
%% --n; --send N; --rounds R; --tickets auto|manual (client: TLS 1.3 tickets, kept for its
%% next connections) or stateless|stateful (server); --early N (client: N bytes of 0-RTT
%% data with a manual ticket, read back first; server: accept 0-RTT data, with --early
%% 0); --reuse (TLS 1.2 session IDs: the client offers its last session, the server
%% keeps its sessions); --key-update (client:
%% ssl:update_keys(read_write) after its first round; server: right after its line);
%% --close-first (server: close_notify right after its line, with ssl:close/2: "CLOSED
%% <result>"); --half-close (server: ssl:shutdown(write) instead, then read to the end:
%% "HALF-CLOSED <bytes>"); --no-middlebox (client: no TLS 1.3 middlebox compatibility);
%% --max-fragment N (client: RFC 6066's max_fragment_length, 512 to 4096).

-mode(compile).

-define(TIMEOUT, 20000).

main(["commands"]) ->
    start(),
    command_loop(#{});
main([Mode | Args]) when Mode =:= "server"; Mode =:= "client" ->
    start(),
    Self = self(),
    Job = spawn_link(fun() -> Self ! {done, run(Mode, parse(Args, defaults()), "")} end),
    receive
        {done, Status} -> halt(Status);
        {'EXIT', Job, Reason} -> say("", "ERROR ~s", [oneline(Reason)]), halt(2)
    end;
main(_) ->
    io:format(standard_error, "usage: peer.escript server|client|commands [FLAGS]~n", []),
    halt(2).

start() ->
    %% ssl logs every alert as a multi-line report; the peer prints its own one-liners.
    ok = logger:set_primary_config(level, error),
    {ok, _} = application:ensure_all_started(ssl),
    process_flag(trap_exit, true).

%% -- commands mode -----------------------------------------------------------------------

%% Jobs maps each running job's tag to its process, for "<tag> stop".
command_loop(Jobs) ->
    case io:get_line("") of
        eof -> halt(0);
        {error, _} -> halt(0);
        Line -> command_loop(command(string:lexemes(string:trim(Line), " "), Jobs))
    end.

command([Tag, Mode | Args], Jobs) when Mode =:= "server"; Mode =:= "client" ->
    Jobs#{Tag => spawn(fun() -> job(Mode, Args, Tag ++ " ") end)};
%% The job's process ends, and with it its listening socket and connections.
command([Tag, "stop"], Jobs) ->
    case maps:take(Tag, Jobs) of
        {Pid, Rest} ->
            exit(Pid, kill),
            say(Tag ++ " ", "STOPPED", []),
            Rest;
        error ->
            say(Tag ++ " ", "STOPPED", []),
            Jobs
    end;
command([], Jobs) -> Jobs;
command(Other, Jobs) ->
    say("", "BAD COMMAND ~s", [oneline(Other)]),
    Jobs.

job(Mode, Args, Prefix) ->
    Status = try run(Mode, parse(Args, defaults()), Prefix)
             catch Class:Reason -> say(Prefix, "ERROR ~s", [oneline({Class, Reason})]), 2
             end,
    say(Prefix, "EXIT ~b", [Status]).

%% -- flags ---------------------------------------------------------------------------------

defaults() ->
    #{n => infinity, send => 1000, rounds => 1, name => "localhost", alpn => [],
      versions => ['tlsv1.3', 'tlsv1.2'], reuse => false, key_update => false,
      close_first => false, half_close => false, middlebox => true}.

parse([], Acc) -> Acc;
parse(["--versions", V | T], Acc) -> parse(T, Acc#{versions => [version(X) || X <- list(V)]});
parse(["--suites", V | T], Acc) -> parse(T, Acc#{suites => [ssl:str_to_suite(X) || X <- list(V)]});
parse(["--groups", V | T], Acc) -> parse(T, Acc#{groups => atoms(V)});
parse(["--sigalgs", V | T], Acc) -> parse(T, Acc#{sigalgs => atoms(V)});
parse(["--alpn", V | T], Acc) -> parse(T, Acc#{alpn => [list_to_binary(X) || X <- list(V)]});
parse(["--cert", V | T], Acc) -> parse(T, Acc#{cert => V});
parse(["--key", V | T], Acc) -> parse(T, Acc#{key => V});
parse(["--ca", V | T], Acc) -> parse(T, Acc#{ca => V});
parse(["--name", V | T], Acc) -> parse(T, Acc#{name => V});
parse(["--port", V | T], Acc) -> parse(T, Acc#{port => list_to_integer(V)});
parse(["--n", V | T], Acc) -> parse(T, Acc#{n => list_to_integer(V)});
parse(["--send", V | T], Acc) -> parse(T, Acc#{send => list_to_integer(V)});
parse(["--rounds", V | T], Acc) -> parse(T, Acc#{rounds => list_to_integer(V)});
parse(["--tickets", V | T], Acc) -> parse(T, Acc#{tickets => list_to_atom(V)});
parse(["--early", V | T], Acc) -> parse(T, Acc#{early => list_to_integer(V)});
parse(["--max-fragment", V | T], Acc) -> parse(T, Acc#{max_fragment => list_to_integer(V)});
parse(["--reuse" | T], Acc) -> parse(T, Acc#{reuse => true});
parse(["--key-update" | T], Acc) -> parse(T, Acc#{key_update => true});
parse(["--close-first" | T], Acc) -> parse(T, Acc#{close_first => true});
parse(["--half-close" | T], Acc) -> parse(T, Acc#{half_close => true});
parse(["--no-middlebox" | T], Acc) -> parse(T, Acc#{middlebox => false});
parse([Flag | _], _) -> error({unknown_flag, Flag}).

list(V) -> string:lexemes(V, ",").
atoms(V) -> [list_to_atom(X) || X <- list(V)].
version("1.3") -> 'tlsv1.3';
version("1.2") -> 'tlsv1.2'.

%% ssl options shared by both sides, from the flags present.
common_opts(F) ->
    [{versions, maps:get(versions, F)}, binary]
        ++ opt(suites, ciphers, F) ++ groups(F)
        ++ sigalgs(F) ++ opt(cert, certfile, F) ++ opt(key, keyfile, F)
        ++ opt(ca, cacertfile, F).

%% The groups: supported_groups in TLS 1.3, eccs (the same names) in TLS 1.2; ssl refuses
%% either option when its version is off.
groups(#{groups := Groups, versions := Versions}) ->
    [{supported_groups, Groups} || lists:member('tlsv1.3', Versions)]
        ++ [{eccs, Groups} || lists:member('tlsv1.2', Versions)];
groups(_) -> [].

%% The signature schemes; for TLS 1.2 alone, OTP 25 wants PKCS#1 v1.5 and ECDSA as
%% {Hash, rsa | ecdsa} (its scheme names are TLS 1.3's there).
sigalgs(#{sigalgs := Schemes} = F) ->
    case tls13(F) of
        true -> [{signature_algs, Schemes}];
        false -> [{signature_algs, [tls12_sigalg(atom_to_list(A)) || A <- Schemes]}]
    end;
sigalgs(_) -> [].

tls12_sigalg("rsa_pkcs1_" ++ Hash) -> {list_to_atom(Hash), rsa};
tls12_sigalg("ecdsa_secp" ++ Curve) -> {list_to_atom(lists:last(string:split(Curve, "_"))), ecdsa};
tls12_sigalg(Scheme) -> list_to_atom(Scheme).

opt(Flag, Name, F) ->
    case maps:find(Flag, F) of
        {ok, V} -> [{Name, V}];
        error -> []
    end.

%% -- server --------------------------------------------------------------------------------

run("server", F, P) ->
    Opts = [{active, true} | common_opts(F) ++ server_opts(F)],
    {ok, Listen} = ssl:listen(0, [{ip, {127, 0, 0, 1}}, {reuseaddr, true} | Opts]),
    {ok, {_, Port}} = ssl:sockname(Listen),
    say(P, "LISTENING ~b", [Port]),
    serve(Listen, F, P, maps:get(n, F)),
    0;
run("client", F, P) ->
    connect_n(F, P, case maps:get(n, F) of infinity -> 1; N -> N end).

server_opts(F) ->
    Auth = case maps:is_key(ca, F) of
               true -> [{verify, verify_peer}, {fail_if_no_peer_cert, true}];
               false -> [{verify, verify_none}]
           end,
    Tickets = case maps:find(tickets, F) of
                  {ok, Mode} -> [{session_tickets, Mode}];
                  error -> []
              end,
    Alpn = case maps:get(alpn, F) of
               [] -> [];
               Protocols -> [{alpn_preferred_protocols, Protocols}]
           end,
    Early = case maps:is_key(early, F) of
                true -> [{early_data, enabled}];
                false -> []
            end,
    Auth ++ Tickets ++ Alpn ++ Early ++ reuse(F).

tls13(F) -> lists:member('tlsv1.3', maps:get(versions, F)).

%% TLS 1.2 session IDs (ssl refuses the option without TLS 1.2).
reuse(F) ->
    case lists:member('tlsv1.2', maps:get(versions, F)) of
        true -> [{reuse_sessions, maps:get(reuse, F)}];
        false -> []
    end.

serve(_Listen, _F, _P, 0) -> ok;
serve(Listen, F, P, N) ->
    {ok, Transport} = ssl:transport_accept(Listen),
    case ssl:handshake(Transport, ?TIMEOUT) of
        {ok, S} ->
            try serve_connection(S, F, P)
            catch error:Why -> say(P, "CONNECTION ERROR ~s", [oneline(Why)])
            end;
        {error, Reason} -> say(P, "HANDSHAKE ERROR ~s", [oneline(Reason)])
    end,
    serve(Listen, F, P, countdown(N)).

countdown(infinity) -> infinity;
countdown(N) -> N - 1.

serve_connection(S, F, P) ->
    Line = json(describe(S, server)),
    say(P, "CONN ~s", [Line]),
    send(S, [Line, $\n]),
    case F of
        #{close_first := true} ->
            say(P, "CLOSED ~s", [oneline(ssl:close(S, ?TIMEOUT))]);
        #{half_close := true} ->
            ok = ssl:shutdown(S, write),
            {Bytes, _} = read_to_close(S, hash_new()),
            say(P, "HALF-CLOSED ~b", [Bytes]);
        _ ->
            maybe_update_keys(S, F),
            {Bytes, Hash} = echo(S, 0, hash_new()),
            say(P, "ECHOED ~b ~s", [Bytes, Hash])
    end,
    ssl:close(S).

%% The next data the peer sent. Sockets are in active mode, not read with ssl:recv:
%% OTP 25's passive recv misses a close_notify that came while no recv was waiting (it
%% reports the close only when the TCP stream ends), and its passive socket calls say
%% only {error, closed} when an alert ended the connection; in active mode every close
%% comes as a message, {ssl_closed, S} or {ssl_error, S, Alert}, after the data.
next_data(S) ->
    receive
        {ssl, S, Data} when is_binary(Data) -> {ok, Data};
        {ssl_closed, S} -> {error, closed};
        {ssl_error, S, Reason} -> {error, Reason}
    after ?TIMEOUT -> {error, timeout}
    end.

%% ssl:send, failing like a read (with the alert that ended the connection, if any).
send(S, Data) ->
    case ssl:send(S, Data) of
        ok -> ok;
        {error, Reason} -> error({recv, why_closed(S, Reason)})
    end.

%% What ended the connection, once a call on the socket failed with Reason: the alert or
%% close the socket delivers (in active mode it always does; the call can fail first).
why_closed(S, Reason) ->
    receive
        {ssl_error, S, Why} -> Why;
        {ssl_closed, S} -> closed
    after ?TIMEOUT -> Reason
    end.

%% With --key-update: a KeyUpdate that asks the peer for one too (RFC 8446 4.6.3).
maybe_update_keys(S, #{key_update := true}) -> ok = ssl:update_keys(S, read_write);
maybe_update_keys(_S, _F) -> ok.

%% Echo until the client closes: {bytes, sha256 hex}, or an error that ends the connection.
echo(S, Bytes, Hash) ->
    case next_data(S) of
        {ok, Data} ->
            send(S, Data),
            echo(S, Bytes + byte_size(Data), crypto:hash_update(Hash, Data));
        {error, closed} -> {Bytes, hex(crypto:hash_final(Hash))};
        {error, Reason} -> {Bytes, oneline({error, Reason})}
    end.

read_to_close(S, Hash) -> read_to_close(S, 0, Hash).
read_to_close(S, Bytes, Hash) ->
    case next_data(S) of
        {ok, Data} -> read_to_close(S, Bytes + byte_size(Data), crypto:hash_update(Hash, Data));
        {error, closed} -> {Bytes, hex(crypto:hash_final(Hash))};
        {error, Reason} -> error({recv, Reason})
    end.

%% -- client --------------------------------------------------------------------------------

connect_n(_F, _P, 0) -> 0;
connect_n(F, P, N) ->
    case connect_once(F, P) of
        {ok, F2} -> connect_n(F2, P, N - 1);
        {error, Reason} -> say(P, "ERROR ~s", [oneline(Reason)]), 1
    end.

client_opts(F) ->
    Verify = case maps:find(ca, F) of
                 {ok, _} -> [{verify, verify_peer}, {server_name_indication, maps:get(name, F)}];
                 error -> [{verify, verify_none}]
             end,
    Tickets = case maps:find(tickets, F) of
                  {ok, Mode} -> [{session_tickets, Mode}];
                  error -> [{session_tickets, disabled} || tls13(F)]
              end,
    UseTicket = case maps:find(ticket, F) of
                    {ok, T} -> [{use_ticket, [T]} | early_data(F)];
                    error -> []
                end,
    Alpn = case maps:get(alpn, F) of
               [] -> [];
               Protocols -> [{alpn_advertised_protocols, Protocols}]
           end,
    Verify ++ Tickets ++ UseTicket ++ Alpn ++ reuse(F) ++ opt(max_fragment, max_fragment_length, F)
        ++ [{middlebox_comp_mode, maps:get(middlebox, F)}].

%% With --early N and a ticket in hand: N bytes of the payload pattern as 0-RTT data.
early_data(#{early := N}) -> [{early_data, pattern(N)}];
early_data(_) -> [].

%% In active mode from the start (see next_data/1), so that an alert that ends the
%% connection after ssl:connect returned (a TLS 1.3 server refusing the client's
%% certificate) is reported whatever the client was doing when it came.
connect_once(F, P) ->
    Opts = [{active, true} | common_opts(F) ++ client_opts(F)],
    case ssl:connect("127.0.0.1", maps:get(port, F), Opts, ?TIMEOUT) of
        {ok, S} ->
            try
                Info = describe(S, client),
                Early = early_echo(S, F),
                Result = Early ++ exchange(S, F),
                Ticket = manual_ticket(F),
                say(P, "~s", [json(Info ++ Result)]),
                {ok, case Ticket of none -> F; T -> F#{ticket => T} end}
            catch error:{recv, Reason} -> {error, Reason}
            end;
        {error, Reason} -> {error, Reason}
    end.

%% With 0-RTT data sent: whether the server took it, as ssl reports it (a message before
%% any data, {early_data, accepted | rejected}), and its echo, which comes first.
early_echo(S, #{early := N, ticket := _}) ->
    Status = receive {ssl, S, {early_data, Said}} -> Said after ?TIMEOUT -> none end,
    Echo = case Status of
               accepted -> recv_exactly(S, N, []);
               _ -> <<>>
           end,
    [{early_sent, N}, {early_data, Status}, {early_echoed, Echo =:= pattern(N)}];
early_echo(_S, _F) -> [{early_sent, 0}].

%% Send the payload in rounds (each read back), then close with close_notify; or, with
%% --send 0, read until the server closes, then close. (Not ssl:shutdown(write): OTP 25's
%% sends no close_notify, see --half-close.)
exchange(S, #{send := 0}) ->
    {Bytes, Hash} = read_to_close(S, hash_new()),
    Closed = ssl:close(S, ?TIMEOUT),
    [{received, Bytes}, {received_sha256, {str, Hash}}, {closed, Closed}];
exchange(S, F = #{send := Size, rounds := Rounds}) ->
    Payload = pattern(Size),
    {Sent, Back} = rounds(S, F, Payload, Size div Rounds, Rounds, 1, hash_new(), hash_new()),
    Closed = ssl:close(S, ?TIMEOUT),
    [{sent, Size}, {sent_sha256, {str, Sent}}, {received, Size}, {received_sha256, {str, Back}},
     {closed, Closed}].

rounds(_S, _F, _Payload, _Piece, Rounds, I, Sent, Back) when I > Rounds ->
    {hex(crypto:hash_final(Sent)), hex(crypto:hash_final(Back))};
rounds(S, F, Payload, Piece, Rounds, I, Sent, Back) ->
    Start = (I - 1) * Piece,
    Len = case I of Rounds -> byte_size(Payload) - Start; _ -> Piece end,
    Chunk = binary:part(Payload, Start, Len),
    send(S, Chunk),
    Echo = recv_exactly(S, Len, []),
    I =:= 1 andalso maybe_update_keys(S, F),
    rounds(S, F, Payload, Piece, Rounds, I + 1, crypto:hash_update(Sent, Chunk),
           crypto:hash_update(Back, Echo)).

recv_exactly(_S, 0, Acc) -> iolist_to_binary(lists:reverse(Acc));
recv_exactly(S, Left, Acc) ->
    case next_data(S) of
        {ok, Data} -> recv_exactly(S, Left - byte_size(Data), [Data | Acc]);
        {error, Reason} -> error({recv, Reason})
    end.

%% With --tickets manual, the ticket tlskit sent, as ssl delivers it to the owner.
manual_ticket(#{tickets := manual}) ->
    receive {ssl, session_ticket, Ticket} -> Ticket after 0 -> none end;
manual_ticket(_) -> none.

%% Byte i of a payload is i mod 251 (a prime, so record boundaries never line up with it).
pattern(Size) ->
    Block = list_to_binary(lists:seq(0, 250)),
    binary:part(binary:copy(Block, Size div 251 + 1), 0, Size).

%% -- what was negotiated -------------------------------------------------------------------

describe(S, Side) ->
    Info = case ssl:connection_information(S, [protocol, selected_cipher_suite,
                                               session_resumption, sni_hostname]) of
               {ok, Values} -> Values;
               {error, Reason} -> error({recv, why_closed(S, Reason)})
           end,
    Version = case proplists:get_value(protocol, Info) of
                  'tlsv1.3' -> "TLSv1.3";
                  'tlsv1.2' -> "TLSv1.2";
                  V -> atom_to_list(V)
              end,
    Alpn = case ssl:negotiated_protocol(S) of
               {ok, Protocol} -> {str, binary_to_list(Protocol)};
               {error, _} -> null
           end,
    Sni = case proplists:get_value(sni_hostname, Info) of
              undefined -> null;
              Name -> {str, Name}
          end,
    [{side, {str, atom_to_list(Side)}},
     {version, {str, Version}},
     {cipher_suite, {str, ssl:suite_to_str(proplists:get_value(selected_cipher_suite, Info))}},
     {alpn, Alpn},
     {server_name, Sni},
     {resumed, proplists:get_value(session_resumption, Info, false)}
     | peer(S)].

peer(S) ->
    case ssl:peercert(S) of
        {ok, Der} ->
            Cert = public_key:pkix_decode_cert(Der, otp),
            Subject = subject(Cert),
            [{peer_subject, {str, Subject}}, {peer_sha256, {str, hex(crypto:hash(sha256, Der))}}];
        {error, _} -> [{peer_subject, null}, {peer_sha256, null}]
    end.

%% The subject's common names, as "CN=<name>". (Debian ships public_key without its
%% headers: the subject is the 6th field of the OTPTBSCertificate record.)
subject(Cert) ->
    {rdnSequence, Rdns} = element(7, element(2, Cert)),
    Names = [value(V) || Rdn <- Rdns, {'AttributeTypeAndValue', {2, 5, 4, 3}, V} <- Rdn],
    string:join(["CN=" ++ N || N <- Names], ",").

value({utf8String, B}) -> unicode:characters_to_list(B);
value({printableString, S}) -> S;
value(B) when is_binary(B) -> binary_to_list(B);
value(S) when is_list(S) -> S.

%% -- output --------------------------------------------------------------------------------

say(Prefix, Format, Args) ->
    io:format("~s~s~n", [Prefix, io_lib:format(Format, Args)]).

%% Any term on one line, as ssl gave it.
oneline(Term) -> io_lib:print(Term, 1, 1000000, -1).

hash_new() -> crypto:hash_init(sha256).
hex(Bin) -> string:lowercase(binary_to_list(binary:encode_hex(Bin))).

%% A tiny JSON encoder for what describe/exchange produce: {str, S}, integers, booleans,
%% null.
json(Pairs) ->
    Fields = [[quote(atom_to_list(K)), $:, value_json(V)] || {K, V} <- Pairs],
    iolist_to_binary([${, lists:join($,, Fields), $}]).

value_json({str, S}) -> quote(S);
value_json(null) -> "null";
value_json(true) -> "true";
value_json(false) -> "false";
value_json(N) when is_integer(N) -> integer_to_list(N);
value_json(Other) -> quote(lists:flatten(oneline(Other))).

quote(S) -> [$", [escape(C) || C <- S], $"].

escape($") -> "\\\"";
escape($\\) -> "\\\\";
escape(C) when C < 32 -> io_lib:format("\\u~4.16.0b", [C]);
escape(C) -> C.
