/* matchkey site tag snippet: paste in <head>. Queues calls until the tag loads; safe to include twice. */
!function(w,d,src){if(w.matchkey)return;var m=w.matchkey=function(){m.q.push(arguments)};m.q=[];m.v=1;var s=d.createElement("script");s.type="module";s.async=!0;s.src=src;(d.head||d.documentElement).appendChild(s)}(window,document,"/pkg/tag.js");
